package ledger

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
)

// The checkpoints' Merkle trees follow RFC 6962 (Certificate Transparency):
// a leaf is SHA-256(0x00 || entry hash), an inner node SHA-256(0x01 || left
// || right), and a tree of n leaves splits at the largest power of two below
// n, so that any number of leaves has exactly one tree and one root.

// MerkleRoot is the root of the tree whose leaves are the entry hashes, in
// commit order (SHA-256 of nothing for no leaves).
func MerkleRoot(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	return subtreeRoot(leaves)
}

func subtreeRoot(leaves []Hash) Hash {
	if len(leaves) == 1 {
		return leafHash(leaves[0])
	}
	k := splitPoint(len(leaves))
	return nodeHash(subtreeRoot(leaves[:k]), subtreeRoot(leaves[k:]))
}

func leafHash(h Hash) Hash {
	var b [1 + HashSize]byte
	copy(b[1:], h[:])
	return sha256.Sum256(b[:])
}

func nodeHash(l, r Hash) Hash {
	var b [1 + 2*HashSize]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[1+HashSize:], r[:])
	return sha256.Sum256(b[:])
}

// splitPoint is the largest power of two smaller than n (n >= 2).
func splitPoint(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// MerkleProof is what proves the leaves at indices (ascending, distinct)
// against the root of the tree over leaves: the roots of the largest
// subtrees holding none of them, depth first, left to right. One proof
// serves every leaf of a bundle, so leaves close to each other share their
// path; for k leaves of n it holds at most k·log2(n) hashes.
func MerkleProof(leaves []Hash, indices []int) []Hash {
	var out []Hash
	var walk func(lo, hi int, idx []int)
	walk = func(lo, hi int, idx []int) {
		switch {
		case len(idx) == 0:
			out = append(out, subtreeRoot(leaves[lo:hi]))
		case hi-lo > 1:
			mid := lo + splitPoint(hi-lo)
			n := sort.SearchInts(idx, mid)
			walk(lo, mid, idx[:n])
			walk(mid, hi, idx[n:])
		}
	}
	if len(indices) > 0 && len(leaves) > 0 {
		walk(0, len(leaves), indices)
	}
	return out
}

// ErrBadProof is returned by MerkleRootFromProof for a proof that does not
// fit the tree's shape.
var ErrBadProof = errors.New("ledger: malformed Merkle proof")

// MerkleRootFromProof recomputes the root of a tree of size leaves from the
// leaves at indices (ascending, distinct; hashes their entry hashes) and
// MerkleProof's hashes. The caller compares it with a signed root.
func MerkleRootFromProof(size int, indices []int, hashes []Hash, proof []Hash) (Hash, error) {
	if len(indices) == 0 || len(indices) != len(hashes) {
		return Hash{}, fmt.Errorf("%w: %d indices for %d leaves", ErrBadProof, len(indices), len(hashes))
	}
	for i, x := range indices {
		if x < 0 || x >= size || (i > 0 && x <= indices[i-1]) {
			return Hash{}, fmt.Errorf("%w: leaf index %d out of order or outside the tree of %d", ErrBadProof, x, size)
		}
	}
	used := 0
	var short bool
	var walk func(lo, hi int, idx []int, hs []Hash) Hash
	walk = func(lo, hi int, idx []int, hs []Hash) Hash {
		switch {
		case len(idx) == 0:
			if used >= len(proof) {
				short = true
				return Hash{}
			}
			used++
			return proof[used-1]
		case hi-lo == 1:
			return leafHash(hs[0])
		}
		mid := lo + splitPoint(hi-lo)
		n := sort.SearchInts(idx, mid)
		l := walk(lo, mid, idx[:n], hs[:n])
		return nodeHash(l, walk(mid, hi, idx[n:], hs[n:]))
	}
	root := walk(0, size, indices, hashes)
	if short {
		return Hash{}, fmt.Errorf("%w: too few hashes (%d)", ErrBadProof, len(proof))
	}
	if used != len(proof) {
		return Hash{}, fmt.Errorf("%w: %d hashes left over", ErrBadProof, len(proof)-used)
	}
	return root, nil
}
