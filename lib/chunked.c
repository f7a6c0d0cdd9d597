/*
 * lib/chunked.c - the chunked body decoder: one byte at a time, strict.
 *
 * The states are named for what has been seen. Chunk data is the only
 * part not walked byte by byte: it is moved down in one memmove, so the
 * data of a large chunk costs one copy within the caller's buffer.
 */
#include "config.h"

#include "lib/chunked.h"

enum {
    s_size_start = 0, /* nothing of the size line yet */
    s_size,           /* hex digits */
    s_ext_name_start, /* after ';' */
    s_ext_name,
    s_ext_val_start, /* after '=' */
    s_ext_val_token,
    s_ext_quoted,     /* inside "..." */
    s_ext_quoted_esc, /* after a backslash inside "..." */
    s_ext_quoted_end, /* after the closing quote */
    s_size_lf,        /* CR of the size line seen */
    s_data,
    s_data_cr, /* chunk data done: CRLF must follow */
    s_data_lf,
    s_trailer_start, /* the start of a trailer line or of the final CRLF */
    s_trailer_name,
    s_trailer_value,
    s_trailer_lf,
    s_final_lf,
    s_done,
};

/* RFC 9110 5.6.2: tchar. */
static bool
is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != '\0' && memchr(extra, c, sizeof(extra) - 1) != NULL;
}

void
pier_chunked_init(struct pier_chunked *ck)
{
    memset(ck, 0, sizeof(*ck));
}

int
pier_chunked_decode(struct pier_chunked *ck, char *p, const char *end,
                    size_t max_line, size_t *used, size_t *data_len,
                    struct pier_err *err)
{
    char *start = p, *w = p;
    int state = ck->state, d;
    const char *what = "chunk size";

    while (p < end) {
        unsigned char ch = (unsigned char) *p;

        if (state == s_data) {
            size_t n = (size_t) (end - p);

            if (n > ck->left) {
                n = (size_t) ck->left;
            }
            memmove(w, p, n);
            w += n;
            p += n;
            ck->left -= n;
            ck->total += n;
            if (ck->left == 0) {
                state = s_data_cr;
            }
            continue;
        }
        if (state != s_done && ++ck->linelen > max_line) {
            what = "chunk line too long";
            goto invalid;
        }
        switch (state) {
        case s_size_start:
        case s_size:
            if (state == s_size && ch == ';') {
                state = s_ext_name_start;
                break;
            }
            if (state == s_size && ch == '\r') {
                state = s_size_lf;
                break;
            }
            d = pier_hexval((unsigned char) ch);
            /* At most 16 digits: a larger size is an attack or a bug. */
            if (d < 0 || ck->size > (UINT64_MAX >> 4)) {
                goto invalid;
            }
            ck->size = ck->size * 16 + (uint64_t) d;
            state = s_size;
            break;
        case s_ext_name_start:
            what = "chunk extension";
            if (!is_tchar(ch)) {
                goto invalid;
            }
            state = s_ext_name;
            break;
        case s_ext_name:
            what = "chunk extension";
            if (ch == '=') {
                state = s_ext_val_start;
            } else if (ch == ';') {
                state = s_ext_name_start;
            } else if (ch == '\r') {
                state = s_size_lf;
            } else if (!is_tchar(ch)) {
                goto invalid;
            }
            break;
        case s_ext_val_start:
            what = "chunk extension";
            if (ch == '"') {
                state = s_ext_quoted;
            } else if (is_tchar(ch)) {
                state = s_ext_val_token;
            } else {
                goto invalid;
            }
            break;
        case s_ext_val_token:
            what = "chunk extension";
            if (ch == ';') {
                state = s_ext_name_start;
            } else if (ch == '\r') {
                state = s_size_lf;
            } else if (!is_tchar(ch)) {
                goto invalid;
            }
            break;
        case s_ext_quoted:
            what = "chunk extension";
            if (ch == '"') {
                state = s_ext_quoted_end;
            } else if (ch == '\\') {
                state = s_ext_quoted_esc;
            } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
                goto invalid;
            }
            break;
        case s_ext_quoted_esc:
            what = "chunk extension";
            if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
                goto invalid;
            }
            state = s_ext_quoted;
            break;
        case s_ext_quoted_end:
            what = "chunk extension";
            if (ch == ';') {
                state = s_ext_name_start;
            } else if (ch == '\r') {
                state = s_size_lf;
            } else {
                goto invalid;
            }
            break;
        case s_size_lf:
            if (ch != '\n') {
                goto invalid;
            }
            ck->linelen = 0;
            if (ck->size == 0) {
                state = s_trailer_start;
            } else {
                ck->left = ck->size;
                ck->size = 0;
                state = s_data;
            }
            break;
        case s_data_cr:
            what = "chunk data not followed by CRLF";
            if (ch != '\r') {
                goto invalid;
            }
            state = s_data_lf;
            break;
        case s_data_lf:
            what = "chunk data not followed by CRLF";
            if (ch != '\n') {
                goto invalid;
            }
            ck->linelen = 0;
            state = s_size_start;
            break;
        case s_trailer_start:
            /* linelen counts the whole trailer section against max_line. */
            what = "trailer";
            if (ch == '\r') {
                state = s_final_lf;
            } else if (is_tchar(ch)) {
                state = s_trailer_name;
            } else {
                goto invalid; /* obs-fold, whitespace, junk */
            }
            break;
        case s_trailer_name:
            what = "trailer";
            if (ch == ':') {
                state = s_trailer_value;
            } else if (!is_tchar(ch)) {
                goto invalid;
            }
            break;
        case s_trailer_value:
            what = "trailer";
            if (ch == '\r') {
                state = s_trailer_lf;
            } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
                goto invalid;
            }
            break;
        case s_trailer_lf:
            what = "trailer";
            if (ch != '\n') {
                goto invalid;
            }
            state = s_trailer_start;
            break;
        case s_final_lf:
            what = "trailer";
            if (ch != '\n') {
                goto invalid;
            }
            state = s_done;
            p++;
            goto done;
        case s_done:
            goto done;
        default:
            PIER_ASSERT(!"bad chunked state");
        }
        p++;
    }
    ck->state = state;
    *used = (size_t) (p - start);
    *data_len = (size_t) (w - start);
    return PIER_AGAIN;

done:
    ck->state = s_done;
    *used = (size_t) (p - start);
    *data_len = (size_t) (w - start);
    return PIER_OK;

invalid:
    ck->state = state;
    *used = (size_t) (p - start);
    *data_len = (size_t) (w - start);
    return pier_err_http(err, 400, "bad %s byte 0x%02x in chunked body", what,
                         (unsigned) (unsigned char) *p);
}
