# lib/http.mk - the HTTP/1.1 server core, chunked decoding, TLS, access log.
noinst_HEADERS += lib/http.h lib/chunked.h lib/tls.h lib/accesslog.h
