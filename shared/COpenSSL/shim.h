#ifndef KUBEEDGE_SWIFT_COPENSSL_SHIM_H
#define KUBEEDGE_SWIFT_COPENSSL_SHIM_H
// OpenSSL 3's libcrypto (Debian's libssl-dev): already loaded in every edge service through libmosquitto, so the
// OPC UA mapper's security policy costs no extra library in memory.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#endif
