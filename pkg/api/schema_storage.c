/* Schema source of PersistentVolume, PersistentVolumeClaim and StorageClass (grammar: the head of schema_defs.c). */
#include "internal.h"

const char mk_api_schema_src_storage[] = "";
