#include "RawLMDB.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct raw_env {
    MDB_env *env;
    MDB_dbi dbi;
    size_t key_bytes;
    size_t value_bytes;
};

struct raw_reader {
    raw_env *env;
    MDB_txn *txn;
};

static void make_key(const raw_env *env, uint32_t key, unsigned char *out) {
    memset(out, 'k', env->key_bytes);
    for (int i = 0; i < 4; i++) out[env->key_bytes - 1 - i] = (unsigned char)(key >> (8 * i));
}

static void make_value(const raw_env *env, uint64_t stamp, unsigned char *out) {
    memset(out, 'v', env->value_bytes);
    memcpy(out, &stamp, sizeof stamp);
}

int raw_open(const char *path, int durability, size_t map_size_bytes, size_t key_bytes, size_t value_bytes,
             raw_env **out) {
    if (key_bytes < 4 || key_bytes > 511 || value_bytes < 8 || value_bytes > 4096) return EINVAL;
    mkdir(path, 0775);
    raw_env *env = calloc(1, sizeof *env);
    if (!env) return ENOMEM;
    env->key_bytes = key_bytes;
    env->value_bytes = value_bytes;
    int rc = mdb_env_create(&env->env);
    if (rc) { free(env); return rc; }
    unsigned flags = MDB_NOTLS;
    if (durability >= 1) flags |= MDB_NOSYNC;
    if (durability == 2) flags |= MDB_WRITEMAP;
    if ((rc = mdb_env_set_mapsize(env->env, map_size_bytes)) || (rc = mdb_env_set_maxreaders(env->env, 126)) ||
        (rc = mdb_env_open(env->env, path, flags, 0664))) {
        mdb_env_close(env->env);
        free(env);
        return rc;
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(env->env, NULL, 0, &txn))) { raw_close(env); return rc; }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &env->dbi))) { mdb_txn_abort(txn); raw_close(env); return rc; }
    if ((rc = mdb_txn_commit(txn))) { raw_close(env); return rc; }
    *out = env;
    return 0;
}

void raw_close(raw_env *env) {
    if (!env) return;
    mdb_env_close(env->env);
    free(env);
}

int raw_fill(raw_env *env, uint32_t count) {
    for (uint32_t first = 0; first < count; first += 10000) {
        uint32_t n = count - first < 10000 ? count - first : 10000;
        int rc = raw_batch(env, first, 1, n, count, 0);
        if (rc) return rc;
    }
    return 0;
}

int raw_reader_open(raw_env *env, raw_reader **out) {
    raw_reader *reader = calloc(1, sizeof *reader);
    if (!reader) return ENOMEM;
    reader->env = env;
    int rc = mdb_txn_begin(env->env, NULL, MDB_RDONLY, &reader->txn);
    if (rc) { free(reader); return rc; }
    mdb_txn_reset(reader->txn);
    *out = reader;
    return 0;
}

void raw_reader_close(raw_reader *reader) {
    if (!reader) return;
    mdb_txn_abort(reader->txn);
    free(reader);
}

int raw_get(raw_reader *reader, uint32_t key, uint64_t *stamp) {
    unsigned char k[512];
    make_key(reader->env, key, k);
    int rc = mdb_txn_renew(reader->txn);
    if (rc) return rc;
    MDB_val kv = {reader->env->key_bytes, k}, vv;
    rc = mdb_get(reader->txn, reader->env->dbi, &kv, &vv);
    if (rc == 0) {
        if (vv.mv_size < 8) rc = MDB_CORRUPTED;
        else memcpy(stamp, vv.mv_data, sizeof *stamp);
    }
    mdb_txn_reset(reader->txn);
    return rc;
}

int raw_put(raw_env *env, uint32_t key, uint64_t stamp) {
    unsigned char k[512], v[4096];
    make_key(env, key, k);
    make_value(env, stamp, v);
    MDB_txn *txn;
    int rc = mdb_txn_begin(env->env, NULL, 0, &txn);
    if (rc) return rc;
    MDB_val kv = {env->key_bytes, k}, vv = {env->value_bytes, v};
    if ((rc = mdb_put(txn, env->dbi, &kv, &vv, 0))) { mdb_txn_abort(txn); return rc; }
    return mdb_txn_commit(txn);
}

int raw_compare_and_swap(raw_env *env, uint32_t key, uint64_t expected, uint64_t stamp, int *swapped) {
    unsigned char k[512], v[4096];
    make_key(env, key, k);
    MDB_txn *txn;
    int rc = mdb_txn_begin(env->env, NULL, 0, &txn);
    if (rc) return rc;
    MDB_val kv = {env->key_bytes, k}, vv;
    uint64_t current = 0;
    rc = mdb_get(txn, env->dbi, &kv, &vv);
    if (rc && rc != MDB_NOTFOUND) { mdb_txn_abort(txn); return rc; }
    if (rc == 0 && vv.mv_size >= 8) memcpy(&current, vv.mv_data, sizeof current);
    if (rc != 0 || current != expected) {
        *swapped = 0;
        mdb_txn_abort(txn);
        return 0;
    }
    make_value(env, stamp, v);
    vv.mv_size = env->value_bytes;
    vv.mv_data = v;
    if ((rc = mdb_put(txn, env->dbi, &kv, &vv, 0))) { mdb_txn_abort(txn); return rc; }
    *swapped = 1;
    return mdb_txn_commit(txn);
}

int raw_batch(raw_env *env, uint32_t first, uint32_t stride, uint32_t count, uint32_t key_count, uint64_t stamp) {
    unsigned char k[512], v[4096];
    make_value(env, stamp, v);
    MDB_txn *txn;
    int rc = mdb_txn_begin(env->env, NULL, 0, &txn);
    if (rc) return rc;
    uint64_t key = first;
    for (uint32_t i = 0; i < count; i++) {
        make_key(env, (uint32_t)(key % key_count), k);
        MDB_val kv = {env->key_bytes, k}, vv = {env->value_bytes, v};
        if ((rc = mdb_put(txn, env->dbi, &kv, &vv, 0))) { mdb_txn_abort(txn); return rc; }
        key += stride;
    }
    return mdb_txn_commit(txn);
}
