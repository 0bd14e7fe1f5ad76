# Declarations of csrc/multicodec.h for every _fast module that checks frames in C.
from libc.stdint cimport uint8_t, uint64_t

cdef extern from "multicodec.h" nogil:
    enum:
        AW_VARINT_MAX_BYTES
        AW_VARINT_EMPTY
        AW_VARINT_TRUNCATED
        AW_VARINT_OVERLONG
        AW_VARINT_NONMINIMAL
        AW_MC_UNKNOWN_CODE
    const uint64_t AW_VARINT_MAX_VALUE
    int aw_varint_decode(const uint8_t *p, size_t n, uint64_t *out)
    int aw_varint_size(uint64_t v)
    int aw_varint_encode(uint64_t v, uint8_t *out)
    int aw_mc_known(uint64_t code)
    int aw_mc_header(const uint8_t *p, size_t n, uint64_t *code)
