#ifndef CONCORD_CLMDB_SHIM_H
#define CONCORD_CLMDB_SHIM_H
#include <lmdb.h>
#endif
