// Command checkpoint_check verifies Warden's signed checkpoints and Merkle proofs with the Go
// module mirror's own implementations (golang.org/x/mod/sumdb/note for signed notes and
// golang.org/x/mod/sumdb/tlog for RFC 6962 trees), so that a regulator has a second, independent
// implementation beside Warden's TypeScript verifiers.
//
// Usage:
//
//	go run checkpoint_check.go bundle DIR
//	go run checkpoint_check.go proof KEYS_JSON PROOF_JSON
//	go run checkpoint_check.go consistency KEYS_JSON CONSISTENCY_JSON
//	go run checkpoint_check.go sign KEY_NAME BODY_FILE
//
// KEYS_JSON is the output of `warden audit keys` (or a bundle's keys.json), PROOF_JSON the output of
// `warden audit proof`, CONSISTENCY_JSON the output of `warden audit consistency`. The program
// prints one JSON object and exits 0 when everything verifies, 1 when a check fails and 2 on a
// usage error. `sign` works the other way round: it makes a new Ed25519 key with the note package,
// signs the checkpoint body in BODY_FILE and prints {"vkey", "note"}, so that Warden's verifier can
// be tested on a note that Warden did not write.
//
// It builds with Debian's packages golang-go and golang-golang-x-mod-dev in GOPATH mode:
// GO111MODULE=off GOPATH=/usr/share/gocode go run tools/interop/checkpoint_check.go ...
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// checkpoint is the body of a C2SP tlog-checkpoint note.
type checkpoint struct {
	Origin   string `json:"origin"`
	TreeSize int64  `json:"treeSize"`
	RootHash string `json:"rootHash"`
	// Key ids (name+hash) of the verified signatures, to compare with the keys the bank publishes.
	KeyIDs []string `json:"signedBy"`
	root   tlog.Hash
}

// checkpointRecord is the part of a checkpoint in Warden's JSON output that this program reads.
type checkpointRecord struct {
	Note string `json:"note"`
}

type publishedKey struct {
	Vkey string `json:"vkey"`
}

type report struct {
	Ok         bool        `json:"ok"`
	Checkpoint *checkpoint `json:"checkpoint,omitempty"`
	// SignedSizes lists, in consistency mode, the proof's tree sizes whose roots a signed checkpoint
	// confirms. A root of any other size must be compared with the reader's own record.
	SignedSizes []int64 `json:"signedSizes,omitempty"`
	// ManifestSignedBy lists, in bundle mode, the key ids of manifest.sig's verified signatures.
	// They differ from the checkpoint's when the export reused a checkpoint signed before a key
	// rotation. Compare both with the keys the bank publishes.
	ManifestSignedBy []string `json:"manifestSignedBy,omitempty"`
	Checked          int      `json:"checked"`
	Errors           []string `json:"errors"`
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	var result report
	var err error
	switch os.Args[1] {
	case "bundle":
		result, err = checkBundle(os.Args[2])
	case "proof":
		if len(os.Args) != 4 {
			usage()
		}
		result, err = checkInclusionFile(os.Args[2], os.Args[3])
	case "sign":
		if len(os.Args) != 4 {
			usage()
		}
		signBody(os.Args[2], os.Args[3])
		return
	case "consistency":
		if len(os.Args) != 4 {
			usage()
		}
		result, err = checkConsistencyFile(os.Args[2], os.Args[3])
	default:
		usage()
	}
	if err != nil {
		result.Errors = append(result.Errors, err.Error())
	}
	result.Ok = len(result.Errors) == 0
	if result.Errors == nil {
		result.Errors = []string{}
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
	if !result.Ok {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: checkpoint_check bundle DIR | proof KEYS_JSON PROOF_JSON | consistency KEYS_JSON CONSISTENCY_JSON | sign KEY_NAME BODY_FILE")
	os.Exit(2)
}

// signBody signs a checkpoint body with a newly generated key and prints the verifier key and note.
func signBody(keyName, bodyPath string) {
	body, err := os.ReadFile(bodyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, keyName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signed, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out, _ := json.Marshal(map[string]string{"vkey": vkey, "note": string(signed)})
	fmt.Println(string(out))
}

// loadVerifiers reads a JSON array of published keys and returns note verifiers for all of them.
func loadVerifiers(path string) (note.Verifiers, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []publishedKey
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("%s: invalid key list: %v", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: the key list is empty", path)
	}
	verifiers := make([]note.Verifier, 0, len(keys))
	for _, key := range keys {
		verifier, err := note.NewVerifier(key.Vkey)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid verifier key %q: %v", path, key.Vkey, err)
		}
		verifiers = append(verifiers, verifier)
	}
	return note.VerifierList(verifiers...), nil
}

// openCheckpoint checks the note's signatures and parses its body as a C2SP tlog-checkpoint:
// origin line, decimal tree size, base64 root hash, then optional extension lines.
func openCheckpoint(text string, verifiers note.Verifiers) (*checkpoint, error) {
	opened, err := note.Open([]byte(text), verifiers)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(opened.Text, "\n"), "\n")
	if len(lines) < 3 || lines[0] == "" {
		return nil, errors.New("checkpoint body: expected origin, tree size and root hash lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, fmt.Errorf("checkpoint body: invalid tree size %q", lines[1])
	}
	rootBytes, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		return nil, fmt.Errorf("checkpoint body: invalid root hash %q", lines[2])
	}
	parsed := &checkpoint{Origin: lines[0], TreeSize: size, RootHash: hex.EncodeToString(rootBytes)}
	copy(parsed.root[:], rootBytes)
	for _, signature := range opened.Sigs {
		parsed.KeyIDs = append(parsed.KeyIDs, fmt.Sprintf("%s+%08x", signature.Name, signature.Hash))
	}
	return parsed, nil
}

func parseHexHash(label, value string) (tlog.Hash, error) {
	var hash tlog.Hash
	raw, err := hex.DecodeString(value)
	if err != nil || len(raw) != tlog.HashSize {
		return hash, fmt.Errorf("%s: expected 64 hex digits, found %q", label, value)
	}
	copy(hash[:], raw)
	return hash, nil
}

func parseHexHashes(label string, values []string) ([]tlog.Hash, error) {
	hashes := make([]tlog.Hash, len(values))
	for i, value := range values {
		hash, err := parseHexHash(fmt.Sprintf("%s[%d]", label, i), value)
		if err != nil {
			return nil, err
		}
		hashes[i] = hash
	}
	return hashes, nil
}

// leafOf returns the RFC 6962 leaf hash of a ledger entry, whose leaf data is the 32 bytes of the
// entry hash.
func leafOf(entryHash string) (tlog.Hash, error) {
	raw, err := hex.DecodeString(entryHash)
	if err != nil || len(raw) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("entry hash: expected 64 hex digits, found %q", entryHash)
	}
	return tlog.RecordHash(raw), nil
}

type inclusion struct {
	Seq       int64    `json:"seq"`
	LeafIndex int64    `json:"leafIndex"`
	TreeSize  int64    `json:"treeSize"`
	LeafHash  string   `json:"leafHash"`
	Proof     []string `json:"proof"`
	RootHash  string   `json:"rootHash"`
}

// checkInclusion verifies one inclusion proof for the entry with the given hash against a
// checkpoint that this program opened itself.
func checkInclusion(proof inclusion, entryHash string, signed *checkpoint) error {
	label := fmt.Sprintf("seq %d", proof.Seq)
	if proof.LeafIndex != proof.Seq-1 {
		return fmt.Errorf("%s: leaf index %d is not seq - 1", label, proof.LeafIndex)
	}
	if proof.TreeSize != signed.TreeSize || proof.RootHash != signed.RootHash {
		return fmt.Errorf("%s: the proof is for tree size %d, root %s, not the signed checkpoint", label, proof.TreeSize, proof.RootHash)
	}
	leaf, err := leafOf(entryHash)
	if err != nil {
		return fmt.Errorf("%s: %v", label, err)
	}
	if hex.EncodeToString(leaf[:]) != proof.LeafHash {
		return fmt.Errorf("%s: the leaf hash in the proof does not match the entry hash", label)
	}
	path, err := parseHexHashes(label+" proof", proof.Proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(path, signed.TreeSize, signed.root, proof.LeafIndex, leaf); err != nil {
		return fmt.Errorf("%s: inclusion proof rejected: %v", label, err)
	}
	return nil
}

func checkInclusionFile(keysPath, proofPath string) (report, error) {
	verifiers, err := loadVerifiers(keysPath)
	if err != nil {
		return report{}, err
	}
	var document struct {
		inclusion
		Checkpoint checkpointRecord `json:"checkpoint"`
		Entry      struct {
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		} `json:"entry"`
	}
	if err := readJSONFile(proofPath, "proof", &document); err != nil {
		return report{}, err
	}
	signed, err := openCheckpoint(document.Checkpoint.Note, verifiers)
	if err != nil {
		return report{}, err
	}
	result := report{Checkpoint: signed}
	if document.Entry.Seq != document.Seq {
		return result, fmt.Errorf("the entry has seq %d but the proof is for seq %d", document.Entry.Seq, document.Seq)
	}
	if err := checkInclusion(document.inclusion, document.Entry.Hash, signed); err != nil {
		return result, err
	}
	result.Checked = 1
	return result, nil
}

func checkConsistencyFile(keysPath, proofPath string) (report, error) {
	verifiers, err := loadVerifiers(keysPath)
	if err != nil {
		return report{}, err
	}
	var document struct {
		FromSize       int64             `json:"fromSize"`
		ToSize         int64             `json:"toSize"`
		FromRoot       string            `json:"fromRoot"`
		ToRoot         string            `json:"toRoot"`
		Proof          []string          `json:"proof"`
		FromCheckpoint *checkpointRecord `json:"fromCheckpoint"`
		ToCheckpoint   *checkpointRecord `json:"toCheckpoint"`
	}
	if err := readJSONFile(proofPath, "consistency", &document); err != nil {
		return report{}, err
	}

	result := report{}
	// A checkpoint given for either size must be signed and must match the proof's root.
	for _, side := range []struct {
		name string
		size int64
		root string
		note *checkpointRecord
	}{{"from", document.FromSize, document.FromRoot, document.FromCheckpoint}, {"to", document.ToSize, document.ToRoot, document.ToCheckpoint}} {
		if side.note == nil {
			continue
		}
		signed, err := openCheckpoint(side.note.Note, verifiers)
		if err != nil {
			return result, fmt.Errorf("%s checkpoint: %v", side.name, err)
		}
		if signed.TreeSize != side.size || signed.RootHash != side.root {
			return result, fmt.Errorf("%s checkpoint: signed size %d, root %s differ from the proof's %d, %s", side.name, signed.TreeSize, signed.RootHash, side.size, side.root)
		}
		result.Checkpoint = signed
		if len(result.SignedSizes) == 0 || result.SignedSizes[0] != signed.TreeSize {
			result.SignedSizes = append(result.SignedSizes, signed.TreeSize)
		}
	}

	fromRoot, err := parseHexHash("fromRoot", document.FromRoot)
	if err != nil {
		return result, err
	}
	toRoot, err := parseHexHash("toRoot", document.ToRoot)
	if err != nil {
		return result, err
	}
	path, err := parseHexHashes("proof", document.Proof)
	if err != nil {
		return result, err
	}
	if err := tlog.CheckTree(path, document.ToSize, toRoot, document.FromSize, fromRoot); err != nil {
		return result, fmt.Errorf("consistency proof from %d to %d rejected: %v", document.FromSize, document.ToSize, err)
	}
	// Without a signed checkpoint both roots come from the proof file itself, so the proof shows
	// only that the file agrees with itself.
	if len(result.SignedSizes) == 0 {
		return result, fmt.Errorf("neither size %d nor %d has a signed checkpoint in the file, so nothing ties the roots to a checkpoint key; ask for a proof between checkpoint tree sizes", document.FromSize, document.ToSize)
	}
	result.Checked = 1
	return result, nil
}

// checkBundle verifies an export bundle's file digests against its manifest, the signatures of
// manifest.sig and the checkpoint against keys.json, and that every ledger.jsonl entry is in the
// checkpoint's tree: by the multiproof in merkle-nodes.jsonl (formats v6, v5 and v4), or by the
// inclusion proof of the same seq in proofs.jsonl (formats v3 and v2). It does not check which
// entries ledger.jsonl may hold or the manifest's counts. Warden's verifiers do.
func checkBundle(dir string) (report, error) {
	result := report{}
	if err := checkManifestDigests(dir); err != nil {
		result.Errors = append(result.Errors, err.Error())
	}
	result.Errors = append(result.Errors, checkManifestFileList(dir)...)
	verifiers, err := loadVerifiers(filepath.Join(dir, "keys.json"))
	if err != nil {
		return result, err
	}
	manifestKeyIDs, err := checkManifestSignature(dir, verifiers)
	if err != nil {
		result.Errors = append(result.Errors, err.Error())
	}
	result.ManifestSignedBy = manifestKeyIDs
	noteText, err := os.ReadFile(filepath.Join(dir, "checkpoint.txt"))
	if err != nil {
		return result, err
	}
	signed, err := openCheckpoint(string(noteText), verifiers)
	if err != nil {
		return result, err
	}
	result.Checkpoint = signed

	// A repeated seq is an error, and the first line of a seq is the one proven, as in Warden's
	// verifiers. Otherwise a forged line before the real one would never be checked.
	entryHashes := map[int64]string{}
	lineOfSeq := map[int64]int{}
	err = readJSONLines(filepath.Join(dir, "ledger.jsonl"), func(number int, line []byte) error {
		var entry struct {
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(line, &entry); err != nil {
			return err
		}
		if first, found := lineOfSeq[entry.Seq]; found {
			result.Errors = append(result.Errors, fmt.Sprintf("ledger.jsonl line %d: seq %d repeats line %d", number, entry.Seq, first))
			return nil
		}
		lineOfSeq[entry.Seq] = number
		entryHashes[entry.Seq] = entry.Hash
		return nil
	})
	if err != nil {
		return result, fmt.Errorf("ledger.jsonl: %v", err)
	}

	if usesMultiproof(readFormatVersion(dir)) {
		if err := checkMultiproof(dir, entryHashes, signed, &result); err != nil {
			return result, err
		}
		return result, nil
	}
	return result, checkProofLines(dir, entryHashes, signed, &result)
}

// checkProofLines checks proofs.jsonl (formats v3 and v2): one inclusion proof per ledger entry.
func checkProofLines(dir string, entryHashes map[int64]string, signed *checkpoint, result *report) error {
	proven := map[int64]bool{}
	err := readJSONLines(filepath.Join(dir, "proofs.jsonl"), func(_ int, line []byte) error {
		var proof inclusion
		if err := json.Unmarshal(line, &proof); err != nil {
			return err
		}
		hash, found := entryHashes[proof.Seq]
		if !found {
			result.Errors = append(result.Errors, fmt.Sprintf("seq %d: proofs.jsonl has a proof but ledger.jsonl has no entry", proof.Seq))
			return nil
		}
		if err := checkInclusion(proof, hash, signed); err != nil {
			result.Errors = append(result.Errors, err.Error())
			return nil
		}
		proven[proof.Seq] = true
		result.Checked++
		return nil
	})
	if err != nil {
		return fmt.Errorf("proofs.jsonl: %v", err)
	}
	for seq := range entryHashes {
		if !proven[seq] {
			result.Errors = append(result.Errors, fmt.Sprintf("seq %d: no valid inclusion proof", seq))
		}
	}
	return nil
}

// leafRange is the half-open range [start, end) of 0-based leaf indexes.
type leafRange struct {
	start, end int64
}

// merkleNodeLine is one line of merkle-nodes.jsonl.
type merkleNodeLine struct {
	number int
	hash   tlog.Hash
	read   bool
}

// checkMultiproof checks merkle-nodes.jsonl (formats v6, v5 and v4). It computes the checkpoint tree's root by
// the RFC 6962 recursion from the ledger entries' leaf hashes and the listed ranges, reports
// missing, unread, repeated, unsorted and malformed lines, and compares the root with the signed
// one. It then rebuilds each entry's RFC 6962 audit path from the computed nodes and checks it
// with tlog.CheckRecord, so the tlog package confirms every entry on its own.
func checkMultiproof(dir string, entryHashes map[int64]string, signed *checkpoint, result *report) error {
	nodes := map[leafRange]*merkleNodeLine{}
	var order []leafRange
	previousStart := int64(-1)
	err := readJSONLines(filepath.Join(dir, "merkle-nodes.jsonl"), func(number int, line []byte) error {
		var fields struct {
			Start *int64 `json:"start"`
			End   *int64 `json:"end"`
			Hash  string `json:"hash"`
		}
		if err := json.Unmarshal(line, &fields); err != nil || fields.Start == nil || fields.End == nil || *fields.Start < 0 || *fields.End <= *fields.Start {
			result.Errors = append(result.Errors, fmt.Sprintf("merkle-nodes.jsonl line %d: not an object with integers 0 <= start < end", number))
			return nil
		}
		at := leafRange{*fields.Start, *fields.End}
		hash, err := parseHexHash(fmt.Sprintf("merkle-nodes.jsonl line %d (range [%d, %d)) hash", number, at.start, at.end), fields.Hash)
		if err != nil || strings.ToLower(fields.Hash) != fields.Hash {
			result.Errors = append(result.Errors, fmt.Sprintf("merkle-nodes.jsonl line %d (range [%d, %d)): hash must be 64 lowercase hex digits", number, at.start, at.end))
			return nil
		}
		if first, found := nodes[at]; found {
			result.Errors = append(result.Errors, fmt.Sprintf("merkle-nodes.jsonl line %d (range [%d, %d)): repeats line %d", number, at.start, at.end, first.number))
			previousStart = at.start
			return nil
		}
		if at.start <= previousStart {
			result.Errors = append(result.Errors, fmt.Sprintf("merkle-nodes.jsonl line %d (range [%d, %d)): not sorted by start", number, at.start, at.end))
		}
		previousStart = at.start
		nodes[at] = &merkleNodeLine{number: number, hash: hash}
		order = append(order, at)
		return nil
	})
	if err != nil {
		return fmt.Errorf("merkle-nodes.jsonl: %v", err)
	}

	seqs := make([]int64, 0, len(entryHashes))
	for seq := range entryHashes {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	indexes := make([]int64, len(seqs))
	leaves := make([]tlog.Hash, len(seqs))
	for i, seq := range seqs {
		leaf, err := leafOf(entryHashes[seq])
		if err != nil {
			return fmt.Errorf("seq %d: %v", seq, err)
		}
		indexes[i] = seq - 1
		leaves[i] = leaf
	}
	if len(seqs) > 0 && (seqs[0] < 1 || indexes[len(indexes)-1] >= signed.TreeSize) {
		return fmt.Errorf("ledger.jsonl: seq %d to %d do not all lie in the signed tree of size %d", seqs[0], seqs[len(seqs)-1], signed.TreeSize)
	}

	// computed holds every node the recursion visits, so each audit path can be rebuilt from it.
	computed := map[leafRange]tlog.Hash{}
	var missing []leafRange
	var node func(start, end int64, first, last int) (tlog.Hash, bool)
	node = func(start, end int64, first, last int) (tlog.Hash, bool) {
		var hash tlog.Hash
		switch {
		case first == last:
			line, found := nodes[leafRange{start, end}]
			if !found {
				missing = append(missing, leafRange{start, end})
				return hash, false
			}
			line.read = true
			hash = line.hash
		case end-start == 1:
			hash = leaves[first]
		default:
			split := start + largestPowerOfTwoBelow(end-start)
			middle := first + sort.Search(last-first, func(i int) bool { return indexes[first+i] >= split })
			left, leftFound := node(start, split, first, middle)
			right, rightFound := node(split, end, middle, last)
			if !leftFound || !rightFound {
				return hash, false
			}
			hash = tlog.NodeHash(left, right)
		}
		computed[leafRange{start, end}] = hash
		return hash, true
	}
	var root tlog.Hash
	complete := false
	if len(leaves) > 0 {
		root, complete = node(0, signed.TreeSize, 0, len(leaves))
	}
	for _, gap := range missing {
		result.Errors = append(result.Errors, fmt.Sprintf("merkle-nodes.jsonl: no line gives the range [%d, %d), which the root computation needs", gap.start, gap.end))
	}
	for _, at := range order {
		if !nodes[at].read {
			result.Errors = append(result.Errors, fmt.Sprintf("merkle-nodes.jsonl line %d (range [%d, %d)): the root computation does not read this range", nodes[at].number, at.start, at.end))
		}
	}
	if !complete {
		return nil
	}
	if root != signed.root {
		result.Errors = append(result.Errors, "merkle-nodes.jsonl: the root computed from ledger.jsonl and merkle-nodes.jsonl differs from the signed checkpoint's root")
	}

	for i, index := range indexes {
		ranges := auditPathRanges(index, signed.TreeSize)
		path := make(tlog.RecordProof, len(ranges))
		for j, at := range ranges {
			path[j] = computed[at]
		}
		if err := tlog.CheckRecord(path, signed.TreeSize, signed.root, index, leaves[i]); err != nil {
			result.Errors = append(result.Errors, fmt.Sprintf("seq %d: inclusion proof rebuilt from merkle-nodes.jsonl rejected: %v", seqs[i], err))
			continue
		}
		result.Checked++
	}
	return nil
}

// auditPathRanges lists the subtrees whose hashes form the RFC 6962 audit path of a leaf, from the
// leaf's sibling up to the root's child, as tlog.CheckRecord expects them.
func auditPathRanges(index, treeSize int64) []leafRange {
	var siblings []leafRange
	start, end := int64(0), treeSize
	for end-start > 1 {
		split := start + largestPowerOfTwoBelow(end-start)
		if index < split {
			siblings = append(siblings, leafRange{split, end})
			end = split
		} else {
			siblings = append(siblings, leafRange{start, split})
			start = split
		}
	}
	for i, j := 0, len(siblings)-1; i < j; i, j = i+1, j-1 {
		siblings[i], siblings[j] = siblings[j], siblings[i]
	}
	return siblings
}

// largestPowerOfTwoBelow returns the largest power of two strictly below n, for n >= 2.
func largestPowerOfTwoBelow(n int64) int64 {
	k := int64(1)
	for k*2 < n {
		k *= 2
	}
	return k
}

// bundleFormatVersions are the export formats whose manifest.sig this program checks. Format v3
// adds review entries to ledger.jsonl, each with a proof in proofs.jsonl like any other entry.
// Format v4 replaces proofs.jsonl with one multiproof in merkle-nodes.jsonl. Format v5 adds the
// access.denied entries that name an exported decision, proven like any other entry. Format v6
// adds review columns to decisions.csv and decisions.parquet, which this program does not read.
var bundleFormatVersions = map[string]bool{
	"warden.audit-export.v6": true,
	"warden.audit-export.v5": true,
	"warden.audit-export.v4": true,
	"warden.audit-export.v3": true,
	"warden.audit-export.v2": true,
}

// usesMultiproof reports whether a format proves its entries with merkle-nodes.jsonl (from v4)
// rather than proofs.jsonl.
func usesMultiproof(formatVersion string) bool {
	return formatVersion == "warden.audit-export.v6" || formatVersion == "warden.audit-export.v5" || formatVersion == "warden.audit-export.v4"
}

// readFormatVersion returns manifest.json's formatVersion, or "" when it cannot be read;
// checkManifestSignature reports why.
func readFormatVersion(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return ""
	}
	var stated struct {
		FormatVersion string `json:"formatVersion"`
	}
	if json.Unmarshal(data, &stated) != nil {
		return ""
	}
	return stated.FormatVersion
}

// checkManifestSignature opens manifest.sig, a signed note whose body states the manifest's
// format version and the SHA-256 of the exact bytes of manifest.json, with the bundle's keys. It
// returns the key ids (name+hash) of the verified signatures once the statement matches.
func checkManifestSignature(dir string, verifiers note.Verifiers) ([]string, error) {
	signature, err := os.ReadFile(filepath.Join(dir, "manifest.sig"))
	if err != nil {
		return nil, fmt.Errorf("manifest.sig: %v", err)
	}
	opened, err := note.Open(signature, verifiers)
	if err != nil {
		return nil, fmt.Errorf("manifest.sig: %v", err)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var stated struct {
		FormatVersion string `json:"formatVersion"`
	}
	if err := json.Unmarshal(manifest, &stated); err != nil {
		return nil, fmt.Errorf("manifest.json: %v", err)
	}
	if !bundleFormatVersions[stated.FormatVersion] {
		return nil, fmt.Errorf("manifest.json: unknown format version %q; this program checks warden.audit-export.v6, v5, v4, v3 and v2 bundles", stated.FormatVersion)
	}
	digest := sha256.Sum256(manifest)
	if opened.Text != stated.FormatVersion+" manifest\nsha256 "+hex.EncodeToString(digest[:])+"\n" {
		return nil, errors.New("manifest.sig: the signed statement does not match manifest.json")
	}
	keyIDs := []string{}
	for _, signature := range opened.Sigs {
		keyIDs = append(keyIDs, fmt.Sprintf("%s+%08x", signature.Name, signature.Hash))
	}
	return keyIDs, nil
}

// checkManifestFileList reports the files that manifest.json must list for its format version but
// does not, and the proof file of the other formats when it lists that. An unlisted file is covered
// by no digest, so its bytes would be checked without being signed.
func checkManifestFileList(dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil
	}
	var manifest struct {
		FormatVersion string                     `json:"formatVersion"`
		Files         map[string]json.RawMessage `json:"files"`
	}
	if json.Unmarshal(data, &manifest) != nil {
		// checkManifestDigests reports the invalid JSON.
		return nil
	}
	proofFile, otherProofFile := "proofs.jsonl", "merkle-nodes.jsonl"
	if usesMultiproof(manifest.FormatVersion) {
		proofFile, otherProofFile = otherProofFile, proofFile
	}
	var problems []string
	for _, name := range []string{"decisions.jsonl", "ledger.jsonl", proofFile, "checkpoint.txt", "keys.json"} {
		if _, listed := manifest.Files[name]; !listed {
			problems = append(problems, fmt.Sprintf("manifest.json: files must list %s, as format %s requires", name, manifest.FormatVersion))
		}
	}
	if _, listed := manifest.Files[otherProofFile]; listed {
		problems = append(problems, fmt.Sprintf("manifest.json: files must not list %s, which format %s does not have", otherProofFile, manifest.FormatVersion))
	}
	return problems
}

// checkManifestDigests compares the size and SHA-256 of every file that manifest.json lists.
func checkManifestDigests(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return err
	}
	var manifest struct {
		Files map[string]struct {
			Bytes  int64  `json:"bytes"`
			Sha256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		return fmt.Errorf("manifest.json: %v", err)
	}
	if len(manifest.Files) == 0 {
		return errors.New("manifest.json lists no files")
	}
	for name, expected := range manifest.Files {
		if name != filepath.Base(name) {
			return fmt.Errorf("manifest.json: file name %q is not a plain name", name)
		}
		file, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		digest := sha256.New()
		size, err := io.Copy(digest, file)
		file.Close()
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if size != expected.Bytes || hex.EncodeToString(digest.Sum(nil)) != expected.Sha256 {
			return fmt.Errorf("%s: size or SHA-256 differs from manifest.json", name)
		}
	}
	return nil
}

// readJSONFile decodes one JSON document, naming the file and the kind of document on failure.
func readJSONFile(path, kind string, document interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, document); err != nil {
		return fmt.Errorf("%s: invalid %s document: %v", path, kind, err)
	}
	return nil
}

// readJSONLines calls handle with the 1-based number and bytes of each non-empty line.
func readJSONLines(path string, handle func(int, []byte) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	number := 0
	for scanner.Scan() {
		number++
		if len(scanner.Bytes()) == 0 {
			continue
		}
		if err := handle(number, scanner.Bytes()); err != nil {
			return fmt.Errorf("line %d: %v", number, err)
		}
	}
	return scanner.Err()
}
