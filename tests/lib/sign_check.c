/*
 * tests/lib/sign_check.c - run lib's request verifier (and the aws-chunked
 * decoder) on requests that real clients signed, for
 * tests/integ/test_sign_botocore.py.
 *
 * Reads one JSON object per line on stdin:
 *   {"method", "path", "query", "headers": [[name, value]...], "now",
 *    "akid", "secret", "region", "prefix", "body" (base64, optional),
 *    "decoded_length" (optional)}
 * and writes one per line on stdout:
 *   {"ok": bool, "code": S3 code or "", "msg", "akid", "form", "payload",
 *    "body_ok": whether the body matched its signed hash or decoded
 *    cleanly, "body_sha256": hex of the (decoded) body}
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/awschunk.h"
#include "lib/buf.h"
#include "lib/sha.h"
#include "lib/sigv4.h"

struct keyring {
    const char *akid;
    const char *secret;
};

static const char *
lookup(void *udata, struct pier_str akid)
{
    const struct keyring *k = udata;

    return pier_str_eq(akid, pier_str_cstr(k->akid)) ? k->secret : NULL;
}

static struct pier_str
jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        return PIER_STR("");
    }
    return pier_str_make(json_string_value(v), json_string_length(v));
}

/* Check the body against what the request declared. */
static bool
check_body(const struct pier_sigv4_auth *auth, json_t *in, char hex[65])
{
    struct pier_str b64 = jstr(in, "body");
    unsigned char *body = malloc(b64.len + 1);
    size_t n = 0;
    struct pier_err err;
    bool ok = false;

    hex[0] = '\0';
    if (body == NULL
        || pier_base64_decode(b64.ptr, b64.len, body, b64.len + 1, &n, &err)
               != PIER_OK) {
        free(body);
        return false;
    }
    switch (auth->payload) {
    case PIER_PAYLOAD_SIGNED:
        pier_sha256_hex(body, n, hex);
        ok = strcmp(hex, auth->payload_sha256) == 0;
        break;
    case PIER_PAYLOAD_UNSIGNED:
        pier_sha256_hex(body, n, hex);
        ok = true;
        break;
    default: {
        struct pier_awschunk ck;
        struct pier_buf out;
        json_t *dl = json_object_get(in, "decoded_length");
        const char *p = (const char *) body, *end = p + n;
        int rc = PIER_AGAIN;

        pier_buf_init(&out, SIZE_MAX);
        if (pier_awschunk_init(&ck, auth,
                               json_is_integer(dl)
                                   ? (uint64_t) json_integer_value(dl)
                                   : PIER_AWSCHUNK_UNKNOWN_LENGTH,
                               &err)
            != PIER_OK) {
            break;
        }
        while (p < end && rc == PIER_AGAIN) {
            struct pier_str data;
            size_t used;

            rc = pier_awschunk_decode(&ck, p, end, &used, &data, &err);
            if (data.len > 0 && pier_buf_addstr(&out, data) != PIER_OK) {
                rc = PIER_ERR;
            }
            p += used;
        }
        if (rc == PIER_ERR) {
            fprintf(stderr, "aws-chunked: %s\n", err.msg);
        }
        ok = rc == PIER_OK && p == end;
        pier_sha256_hex(out.data, out.len, hex);
        pier_awschunk_release(&ck);
        pier_buf_release(&out);
        break;
    }
    }
    free(body);
    return ok;
}

int
main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;

    while ((got = getline(&line, &cap, stdin)) > 0) {
        json_error_t jerr;
        json_t *in = json_loads(line, 0, &jerr), *hs, *h, *out;
        struct pier_kv headers[64];
        size_t nh = 0, i;
        struct keyring kr;
        struct pier_sigv4_verify_req vr;
        struct pier_sigv4_auth auth;
        struct pier_err err;
        char hex[65] = "";
        bool ok, body_ok = false;

        if (in == NULL) {
            fprintf(stderr, "bad input line: %s\n", jerr.text);
            return 2;
        }
        hs = json_object_get(in, "headers");
        json_array_foreach(hs, i, h)
        {
            if (nh == PIER_NELEMS(headers)) {
                break;
            }
            headers[nh].name =
                pier_str_cstr(json_string_value(json_array_get(h, 0)));
            headers[nh].value =
                pier_str_cstr(json_string_value(json_array_get(h, 1)));
            nh++;
        }
        kr.akid = jstr(in, "akid").ptr;
        kr.secret = jstr(in, "secret").ptr;
        memset(&vr, 0, sizeof(vr));
        vr.method = jstr(in, "method");
        vr.path = jstr(in, "path");
        vr.query = jstr(in, "query");
        vr.headers = headers;
        vr.nheaders = nh;
        vr.now = (time_t) json_integer_value(json_object_get(in, "now"));
        vr.region = json_string_value(json_object_get(in, "region"));
        vr.v2_resource_prefix = jstr(in, "prefix");
        vr.lookup = lookup;
        vr.lookup_data = &kr;
        memset(&err, 0, sizeof(err));
        ok = pier_sigv4_verify(&vr, &auth, &err) == PIER_OK;
        if (ok && json_object_get(in, "body") != NULL) {
            body_ok = check_body(&auth, in, hex);
        }
        out = json_pack("{s:b, s:s, s:s, s:s, s:i, s:i, s:b, s:s}", "ok", ok,
                        "code", ok ? "" : pier_s3_code(err.s3), "msg",
                        ok ? "" : err.msg, "akid", ok ? auth.access_key_id : "",
                        "form", ok ? (int) auth.form : 0, "payload",
                        ok ? (int) auth.payload : 0, "body_ok", body_ok,
                        "body_sha256", hex);
        PIER_ASSERT(out != NULL);
        {
            char *s = json_dumps(out, JSON_COMPACT);

            PIER_ASSERT(s != NULL);
            printf("%s\n", s);
            free(s);
        }
        fflush(stdout);
        json_decref(out);
        json_decref(in);
    }
    free(line);
    return 0;
}
