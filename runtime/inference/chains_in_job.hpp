// NUTS chains in a job of several processes (runtime/distributed/job.hpp): rank
// r of K runs the chains c with c % K == r, and the root gathers every chain's
// result. A chain's random streams depend only on (seed, chain), so the gathered
// chains are the chains a single process draws, to the last digit.
#pragma once

#include "runtime/distributed/job.hpp"
#include "runtime/inference/chains.hpp"

#include <string>
#include <vector>

namespace latent {

// The chains of `job`'s rank among `chains`, increasing (none when there are
// more ranks than chains: that rank only waits for the others).
std::vector<int> chains_of_rank(int chains, const distributed::Job& job);

// Every chain's result at the root, in chain order (each rank passes the
// results of chains_of_rank); empty on the other ranks. In a job of one, `mine`.
std::vector<ChainResult> gather_chains(std::vector<ChainResult> mine, int chains, distributed::Job& job);

// A chain's result as bytes and back, every double exact (the ranks of a job
// run the same build on machines of the same byte order). Throws
// std::runtime_error on bytes that are not a whole result.
std::string serialize_chain(const ChainResult& chain);
ChainResult deserialize_chain(const std::string& bytes);

}  // namespace latent
