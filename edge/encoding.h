/*
 * edge/encoding.h - content codings: parse Accept-Encoding, choose the
 * variant to send.
 *
 * A blob exists in up to four variants (ARCHITECTURE.md: blobs/<sha256>,
 * .br, .zst, .gz). The edge sends the one the client weighs highest among
 * those the manifest lists; at equal weight br beats zstd beats gzip beats
 * identity, because smaller bytes cost less to send.
 *
 * The parser is an explicit state machine that resumes at any byte and
 * allocates nothing; several Accept-Encoding lines are one list (RFC 9110
 * 5.3), so the caller feeds them in turn with a "," between. Any thread.
 *
 * Errors, after RFC 9110's grammar (12.5.3, 12.4.2): a weight must be a
 * bare qvalue ("q=0.5"). A malformed one that is still a parameter value
 * ("q=2", "q=0.1234", the quoted "q=\"0.5\"") drops its element only: that
 * coding counts as not listed, the rest of the list stands. Other
 * parameters are skipped, token or quoted-string alike. Anything that is
 * not the list syntax at all is a syntax error for the whole header.
 */
#ifndef EDGE_ENCODING_H
#define EDGE_ENCODING_H

#include "lib/core.h"
#include "lib/err.h"

enum edge_enc {
    EDGE_ENC_IDENTITY = 0,
    EDGE_ENC_BR,
    EDGE_ENC_ZSTD,
    EDGE_ENC_GZIP,
    EDGE_ENC_MAX
};

#define EDGE_ENC_BIT(e) (1U << (e))
#define EDGE_ENC_ALL                                             \
    (EDGE_ENC_BIT(EDGE_ENC_IDENTITY) | EDGE_ENC_BIT(EDGE_ENC_BR) \
     | EDGE_ENC_BIT(EDGE_ENC_ZSTD) | EDGE_ENC_BIT(EDGE_ENC_GZIP))

/* What a client accepts. Zero it (or edge_accept_init) before parsing. */
struct edge_accept {
    unsigned state;           /* the parser's; 0 at the start */
    unsigned listed;          /* EDGE_ENC_BITs named in the list */
    bool star;                /* "*" was named */
    bool any;                 /* the header was present */
    uint16_t q[EDGE_ENC_MAX]; /* weights in thousandths, when listed */
    uint16_t star_q;          /* the weight of "*" */
    /* The element being parsed. */
    char tok[8];     /* the coding's name, lower case */
    uint8_t toklen;  /* 0xff: too long to be one we know */
    uint16_t cur_q;  /* its weight so far */
    uint8_t qdigits; /* digits after the '.' */
    bool bad;        /* its weight is malformed: ignore it */
};

void edge_accept_init(struct edge_accept *acc);

/* Feed n bytes of an Accept-Encoding value. PIER_OK when all were taken;
 * PIER_ERR on a syntax error (the caller then ignores the header, as RFC
 * 9110 12.5.3 allows, and sends identity). Borrows p. */
int edge_accept_parse(struct edge_accept *acc, const char *p, size_t n,
                      struct pier_err *err);
/* The value ended: take its last element. PIER_ERR if it was cut short. */
int edge_accept_finish(struct edge_accept *acc, struct pier_err *err);

/* The weight (0..1000) the client gives enc, after RFC 9110 12.5.3: a
 * listed coding has its own q; else "*"'s; identity is acceptable unless
 * excluded, at the lowest weight so that a listed coding wins; with no
 * header at all, only identity (as nginx does, and what caches expect). */
unsigned edge_accept_weight(const struct edge_accept *acc, enum edge_enc enc);

/* The coding to send among avail (EDGE_ENC_BITs; identity is always
 * available). When nothing available is acceptable (identity;q=0 and no
 * listed variant), identity: RFC 9110 12.5.3 lets a server disregard the
 * header rather than answer 406. */
enum edge_enc edge_accept_choose(const struct edge_accept *acc, unsigned avail);

/* "br", "zstd", "gzip"; NULL for identity (no Content-Encoding). */
const char *edge_enc_name(enum edge_enc enc);
/* The blob key suffix: ".br", ".zst", ".gz", "" for identity. */
const char *edge_enc_suffix(enum edge_enc enc);

#endif
