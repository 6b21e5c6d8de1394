/* Schema source of Job and CronJob (grammar: the head of schema_defs.c). */
#include "internal.h"

const char mk_api_schema_src_batch[] = "";
