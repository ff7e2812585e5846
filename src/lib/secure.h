/* secure.h: handling of secrets: wiping memory and comparing in constant time. */
#ifndef KURA_LIB_SECURE_H
#define KURA_LIB_SECURE_H

#include <stddef.h>

/* Overwrite n bytes with zeros in a way the compiler may not optimise away. */
void secure_zero(void *p, size_t n);
/* 1 if the n bytes at a and b are equal, else 0; time depends only on n. */
int secure_memeq(const void *a, const void *b, size_t n);

#endif
