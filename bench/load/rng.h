/* rng.h: the load generator's deterministic random numbers (SplitMix64). Each client owns one
 * state, seeded from --seed and its client number, so a run's choices repeat exactly for the
 * same options; nothing here is for cryptography. */
#ifndef KURA_LOAD_RNG_H
#define KURA_LOAD_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint32_t rng_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(((rng_next(state) >> 32) * (uint64_t)n) >> 32);
}

/* true with probability percent/100. */
static inline int rng_percent(uint64_t *state, unsigned percent)
{
	return rng_below(state, 100) < percent;
}

#endif
