/* imap-store-error.h: the IMAP response code for a store error (RFC 5530). */
#ifndef KURA_IMAP_STORE_ERROR_H
#define KURA_IMAP_STORE_ERROR_H

#include "store/store.h"

static inline const char *imap_store_error_code(enum store_error e)
{
	switch (e) {
	case STORE_ERR_NOT_FOUND:
		return "NONEXISTENT";
	case STORE_ERR_EXISTS:
		return "ALREADYEXISTS";
	case STORE_ERR_LIMIT:
		return "LIMIT";
	case STORE_ERR_TOOBIG:
		return "TOOBIG";
	case STORE_ERR_INVALID:
	case STORE_ERR_INUSE:
		return "CANNOT";
	case STORE_ERR_NONE:
	case STORE_ERR_INTERNAL:
		break;
	}
	return "SERVERBUG";
}

#endif
