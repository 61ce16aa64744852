/* ws/sha1.h — SHA-1 and base64, only as much as Sec-WebSocket-Accept needs.
 *
 * Pure C, internal to ws/. SHA-1 is no longer a secure hash; RFC 6455 uses it
 * only to prove the server read the handshake, which is all this is for. */
#ifndef FF_WS_SHA1_H
#define FF_WS_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[5];
    uint64_t total;          /* bytes hashed so far */
    unsigned char block[64]; /* the partial block */
    size_t used;
} ff_sha1;

void ff_sha1_init(ff_sha1 *s);
void ff_sha1_update(ff_sha1 *s, const void *data, size_t len);
void ff_sha1_final(ff_sha1 *s, unsigned char out[20]);

/* Standard base64 with padding of src[0..len) into out (4 * ceil(len / 3)
 * characters, then a NUL); returns the characters written. */
size_t ff_base64_encode(const unsigned char *src, size_t len, char *out);

/* Decodes padded standard base64; returns the byte count, or -1 when the text
 * is not base64 (bad character, length not a multiple of 4, misplaced '=').
 * out must hold len / 4 * 3 bytes. */
long ff_base64_decode(const char *src, size_t len, unsigned char *out);

#endif
