/*
 * sites/record.c - site records, names and domains.
 */
#include "config.h"

#include "sites/record.h"

static bool
label_ok(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-') {
        return false;
    }
    for (i = 0; i < n; i++) {
        char c = p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

bool
sites_name_ok(struct pier_str name)
{
    return name.ptr != NULL && label_ok(name.ptr, name.len);
}

bool
sites_domain_ok(struct pier_str d, bool wildcard)
{
    size_t i, start;

    if (d.ptr == NULL) {
        return false;
    }
    if (wildcard && d.len > 2 && d.ptr[0] == '*' && d.ptr[1] == '.') {
        d.ptr += 2;
        d.len -= 2;
    }
    if (d.len == 0 || d.len > SITES_DOMAIN_MAX) {
        return false;
    }
    start = 0;
    for (i = 0; i <= d.len; i++) {
        if (i == d.len || d.ptr[i] == '.') {
            if (!label_ok(d.ptr + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}
