#ifndef KUBEEDGE_SWIFT_CCURL_SHIM_H
#define KUBEEDGE_SWIFT_CCURL_SHIM_H
// libcurl (Debian's libcurl4-openssl-dev). Its setters (curl_easy_setopt, curl_easy_getinfo) are variadic, which
// Swift cannot call: these typed wrappers, one per argument type, are what KubeClient uses, with two small helpers
// (pause, reading the multi handle's done message) for macros and unions Swift does not import well.
#include <curl/curl.h>
#include <stddef.h>

// MARK: library

static inline CURLcode kc_global_init(void) { return curl_global_init(CURL_GLOBAL_ALL); }

// MARK: easy options, by argument type

static inline CURLcode kc_setopt_long(CURL *h, CURLoption option, long value) {
    return curl_easy_setopt(h, option, value);
}
static inline CURLcode kc_setopt_off(CURL *h, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(h, option, value);
}
/// Strings are copied by libcurl (except CURLOPT_POSTFIELDS, which KubeClient does not use).
static inline CURLcode kc_setopt_str(CURL *h, CURLoption option, const char *value) {
    return curl_easy_setopt(h, option, value);
}
/// Pointers: callback user data, slists (kept alive by the caller until the transfer ends), the error buffer.
static inline CURLcode kc_setopt_ptr(CURL *h, CURLoption option, void *value) {
    return curl_easy_setopt(h, option, value);
}
/// In-memory PEM (CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB, CURLOPT_CAINFO_BLOB); libcurl copies the bytes.
static inline CURLcode kc_setopt_blob(CURL *h, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = length;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(h, option, &blob);
}
static inline CURLcode kc_setopt_write_function(CURL *h, curl_write_callback callback) {
    return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, callback);
}
static inline CURLcode kc_setopt_xferinfo_function(CURL *h, curl_xferinfo_callback callback) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, callback);
}

// MARK: info

static inline CURLcode kc_getinfo_long(CURL *h, CURLINFO info, long *value) {
    return curl_easy_getinfo(h, info, value);
}

// MARK: pause / multi

/// What a write callback returns to pause the transfer (the bytes it was given are delivered again on resume).
static inline size_t kc_write_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline CURLcode kc_unpause(CURL *h) { return curl_easy_pause(h, CURLPAUSE_CONT); }

/// Drains the multi handle's messages; returns 1 and sets *result once `easy` has finished.
static inline int kc_multi_done(CURLM *multi, CURL *easy, CURLcode *result) {
    int left = 0;
    int found = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
            *result = msg->data.result;
            found = 1;
        }
    }
    return found;
}

#endif
