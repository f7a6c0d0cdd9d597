/*
 * pier.h - the subcommands of the pier program.
 *
 * Each folder defines the handlers of its commands (objstore/ defines
 * pier_cmd_objstore, ...) in a file its fragment adds to pier_SOURCES, not
 * to libpier.a (a weak reference does not pull a member out of an
 * archive). pier.c declares them weak, so a command appears in
 * `pier --help` only once its folder links one in: no command is ever
 * listed that does not work.
 *
 * A handler gets argv with argv[0] set to the command's name ("objstore"),
 * parses its options with getopt_long, answers --help on stdout with exit
 * 0, and returns the process's exit status: 0 on success, 1 with a one-line
 * reason on stderr on failure, 2 on a usage error (reason and usage on
 * stderr).
 */
#ifndef PIER_H
#define PIER_H

#define PIER_COMMANDS(XX)                                                      \
    XX(up, "run the local object store and edge together")                     \
    XX(objstore, "run the S3-compatible object store")                         \
    XX(keys, "add, list and remove object store keys")                         \
    XX(edge, "run the caching edge server")                                    \
    XX(publish, "publish a commit of a site's repository")                     \
    XX(site, "create, list, show and remove sites")                            \
    XX(deploys, "list a site's deploys")                                       \
    XX(rollback, "make an earlier deploy live again")                          \
    XX(gc, "delete deploys and blobs no kept deploy needs")                    \
    XX(purge, "drop cached paths from the edges")                              \
    XX(status, "show what runs where")                                         \
    XX(demo, "publish the demo site and open it")

#define XX(name, help) int pier_cmd_##name(int argc, char **argv);
PIER_COMMANDS(XX)
#undef XX

#endif
