#ifndef MARAC_CSHIMS_H
#define MARAC_CSHIMS_H

// Function wrappers for OpenSSL's function-like macros, which Swift cannot call.
// Nothing else belongs here: all logic lives in the Swift TLS module.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

int shim_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
int shim_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
long shim_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
long shim_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode);
int shim_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
int shim_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
long shim_BIO_get_mem_data(BIO *bio, char **data);
long shim_BIO_set_mem_eof_return(BIO *bio, long value);
void shim_OPENSSL_free(void *pointer);
EVP_PKEY *shim_EVP_EC_gen(const char *curve);
EVP_PKEY *shim_EVP_RSA_gen(unsigned int bits);
void shim_X509V3_set_ctx_nodb(X509V3_CTX *ctx);
int shim_sk_X509_num(const STACK_OF(X509) *stack);
X509 *shim_sk_X509_value(const STACK_OF(X509) *stack, int index);
unsigned long shim_XN_FLAG_RFC2253(void);
uint64_t shim_SSL_OP_NO_COMPRESSION(void);
uint64_t shim_SSL_OP_NO_RENEGOTIATION(void);
uint64_t shim_SSL_OP_CIPHER_SERVER_PREFERENCE(void);
uint64_t shim_SSL_OP_NO_TICKET(void);

#endif
