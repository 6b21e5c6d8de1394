/* Schema source of metrics.k8s.io NodeMetrics and PodMetrics (grammar: the head of schema_defs.c). */
#include "internal.h"

const char mk_api_schema_src_metrics[] = "";
