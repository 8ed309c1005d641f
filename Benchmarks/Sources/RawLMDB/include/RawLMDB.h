// Raw LMDB, called from C: the baseline every Concord shape is compared with.
//
// One `raw_env` is one LMDB environment with one unnamed database of `count` keys of
// `key_bytes` bytes (a fixed prefix, then the key number big-endian) and values of
// `value_bytes` bytes (the first 8 bytes hold a stamp, the rest is fixed filler). Every
// function returns 0 on success or an LMDB / errno code.
#ifndef RAW_LMDB_H
#define RAW_LMDB_H

#include <stddef.h>
#include <stdint.h>

typedef struct raw_env raw_env;
typedef struct raw_reader raw_reader;

/// durability: 0 = fsync per commit, 1 = MDB_NOSYNC, 2 = MDB_NOSYNC | MDB_WRITEMAP.
int raw_open(const char *path, int durability, size_t map_size_bytes, size_t key_bytes, size_t value_bytes,
             raw_env **out);
void raw_close(raw_env *env);
/// Writes keys 0..<count with stamp 0, 10,000 per transaction.
int raw_fill(raw_env *env, uint32_t count);

/// A reader owns a reset read transaction that each get renews (the cheapest LMDB read).
int raw_reader_open(raw_env *env, raw_reader **out);
void raw_reader_close(raw_reader *reader);
/// renew + mdb_get + reset; `*stamp` receives the value's stamp.
int raw_get(raw_reader *reader, uint32_t key, uint64_t *stamp);

/// begin + mdb_put + commit.
int raw_put(raw_env *env, uint32_t key, uint64_t stamp);
/// begin + mdb_get + (if the stamp is `expected`) mdb_put + commit; `*swapped` says which.
int raw_compare_and_swap(raw_env *env, uint32_t key, uint64_t expected, uint64_t stamp, int *swapped);
/// begin + `count` mdb_put of keys `first`, `first + stride`, ... (mod the key count) + commit.
int raw_batch(raw_env *env, uint32_t first, uint32_t stride, uint32_t count, uint32_t key_count, uint64_t stamp);

#endif
