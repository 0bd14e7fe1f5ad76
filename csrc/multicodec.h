/*
 * Strict unsigned-LEB128 varints and multicodec frame headers, shared by every _fast module.
 *
 * Plain static inline C so the router and mailbox can check frames without a Python call.
 * Rules (SPEC.md "Multicodec"): at most 9 bytes (so values < 2^63), minimal encoding only.
 * Every function checks its lengths; none reads past `n`.
 */
#ifndef AIRSSYS_MULTICODEC_H
#define AIRSSYS_MULTICODEC_H

#include <stddef.h>
#include <stdint.h>

#define AW_VARINT_MAX_BYTES 9
#define AW_VARINT_MAX_VALUE 0x7fffffffffffffffULL

/* Error codes returned (negated) by the decoders. */
enum {
    AW_VARINT_EMPTY = -1,       /* no bytes at all */
    AW_VARINT_TRUNCATED = -2,   /* input ended while the continuation bit was set */
    AW_VARINT_OVERLONG = -3,    /* 9 bytes with the continuation bit still set */
    AW_VARINT_NONMINIMAL = -4,  /* a trailing 0x00 group: the same value fits in fewer bytes */
    AW_MC_UNKNOWN_CODE = -5     /* a well-formed varint that names no supported codec */
};

/* Decode one varint from p[0..n). Returns the number of bytes used (1..9) or a negative error. */
static inline int aw_varint_decode(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t value = 0;
    size_t limit = n < AW_VARINT_MAX_BYTES ? n : AW_VARINT_MAX_BYTES;
    size_t i;
    if (n == 0 || p == NULL)
        return AW_VARINT_EMPTY;
    for (i = 0; i < limit; i++) {
        uint8_t b = p[i];
        value |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0)
                return AW_VARINT_NONMINIMAL;
            *out = value;
            return (int)(i + 1);
        }
    }
    return n < AW_VARINT_MAX_BYTES ? AW_VARINT_TRUNCATED : AW_VARINT_OVERLONG;
}

/* Bytes needed to encode v (v must be <= AW_VARINT_MAX_VALUE). */
static inline int aw_varint_size(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Encode v into out (room for AW_VARINT_MAX_BYTES). Returns the bytes written. */
static inline int aw_varint_encode(uint64_t v, uint8_t *out)
{
    int n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* The codecs of SPEC.md. Anything else is rejected. */
static inline int aw_mc_known(uint64_t code)
{
    return code == 0x55 || code == 0x51 || code == 0x0200 || code == 0x0201 || code == 0x0701;
}

/* Check a frame header: on success stores the code, returns the payload offset (1..9). */
static inline int aw_mc_header(const uint8_t *p, size_t n, uint64_t *code)
{
    int used = aw_varint_decode(p, n, code);
    if (used < 0)
        return used;
    if (!aw_mc_known(*code))
        return AW_MC_UNKNOWN_CODE;
    return used;
}

#endif /* AIRSSYS_MULTICODEC_H */
