/*
 * pier.c - the pier program: one binary, one subcommand per job.
 *
 * The command table comes from PIER_COMMANDS in pier.h. Handlers are weak
 * references: a command whose folder has not linked its handler in is not
 * listed and not accepted.
 */
#include "config.h"

#include "pier.h"

#include "lib/core.h"
#include "sites/manifest.h"

#include <stdio.h>
#include <string.h>

#define XX(name, help) \
    extern int pier_cmd_##name(int, char **) __attribute__((weak));
PIER_COMMANDS(XX)
#undef XX

struct cmd {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
};

static const struct cmd commands[] = {
#define XX(n, h) {#n, h, pier_cmd_##n},
    PIER_COMMANDS(XX)
#undef XX
};

static void
usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: pier [--version] [--help] COMMAND [ARGS]\n\n"
               "pier publishes static sites from git: a signed S3 object "
               "store,\na publisher and a caching edge.\n\nCommands:\n");
    for (i = 0; i < PIER_NELEMS(commands); i++) {
        if (commands[i].fn != NULL) {
            fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
        }
    }
    fprintf(f, "\n'pier help COMMAND' or 'pier COMMAND --help' tells more.\n");
}

static const struct cmd *
find(const char *name)
{
    size_t i;

    for (i = 0; i < PIER_NELEMS(commands); i++) {
        if (strcmp(commands[i].name, name) == 0 && commands[i].fn != NULL) {
            return &commands[i];
        }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    const struct cmd *c;
    char help[] = "--help";
    char *hargv[3];

    sites_json_init(); /* before any JSON value exists */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("pier %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        c = find(argv[2]);
        if (c == NULL) {
            fprintf(stderr, "pier: unknown command '%s'\n", argv[2]);
            usage(stderr);
            return 2;
        }
        hargv[0] = argv[2];
        hargv[1] = help;
        hargv[2] = NULL;
        return c->fn(2, hargv);
    }
    if (argv[1][0] == '-') {
        fprintf(stderr, "pier: unknown option '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    c = find(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "pier: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return c->fn(argc - 1, argv + 1);
}
