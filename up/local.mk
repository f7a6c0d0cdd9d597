# up/local.mk - pier up: the local stack in one command.
libpier_a_SOURCES += up/prepare.c
noinst_HEADERS += up/up.h
pier_SOURCES += up/cmd.c
