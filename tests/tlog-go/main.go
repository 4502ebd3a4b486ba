// Command tlog-go checks cases produced by sealtrail's Rust tlog code
// (core/examples/tlog_cases.rs) with Go's reference implementations,
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog.
//
// Usage: tlog-go cases.json   (prints "N passed, M failed"; exit 1 on failure)
//
// Cosignatures (C2SP tlog-cosignature, key type 0x04) are checked with a
// note.Verifier written here from the spec, since x/mod's note only knows
// type 0x01.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type cases struct {
	Keys  []struct{ Skey, Vkey string }
	Sign  []struct{ Skey, Text, Msg string }
	Notes []struct {
		Msg   string
		Vkeys []string
		Valid bool
		Text  string
		Sigs  int
	}
	Trees []struct {
		Leaves     []string
		LeafFields []struct {
			OrgID    string `json:"org_id"`
			AgentID  string `json:"agent_id"`
			Seq      uint64
			LinkHash string `json:"link_hash"`
		} `json:"leaf_fields"`
		Roots     []tlog.Hash
		Stored    []tlog.Hash
		Inclusion []struct {
			Size, Index int64
			Proof       []tlog.Hash
			Valid       bool
		}
		Consistency []struct {
			Size, Old int64
			Proof     []tlog.Hash
			Valid     bool
		}
	}
	Checkpoints []struct {
		Note         string
		LogVkey      string   `json:"log_vkey"`
		WitnessVkeys []string `json:"witness_vkeys"`
		Origin       string
		Size         int64
		Root         tlog.Hash
		Time         uint64
	}
	Cosignatures []struct {
		Vkey, Text, Line string
		Timestamp        uint64
		Valid            bool
	}
}

var passed, failed int

func check(ok bool, format string, args ...interface{}) {
	if ok {
		passed++
		return
	}
	failed++
	if failed <= 20 {
		fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	}
}

// cosigVerifier verifies tlog-cosignature v1 (type 0x04) signatures.
type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	last uint64
}

func newCosigVerifier(vkey string) (*cosigVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed vkey")
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 33 || key[0] != 0x04 {
		return nil, fmt.Errorf("not an Ed25519 cosignature key")
	}
	// Key ID = SHA-256(name || "\n" || 0x04 || pubkey)[:4].
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), key...))
	if binary.BigEndian.Uint32(sum[:4]) != uint32(h) {
		return nil, fmt.Errorf("key hash mismatch")
	}
	return &cosigVerifier{name: parts[0], hash: uint32(h), key: ed25519.PublicKey(key[1:])}, nil
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	m := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, msg)
	if !ed25519.Verify(v.key, []byte(m), sig[8:]) {
		return false
	}
	v.last = t
	return true
}

func frame(b *bytes.Buffer, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	b.Write(n[:])
	b.WriteString(s)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tlog-go cases.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var c cases
	if err := json.Unmarshal(data, &c); err != nil {
		fmt.Fprintln(os.Stderr, "parsing cases:", err)
		os.Exit(2)
	}

	// Key texts: Go parses our private and verifier keys.
	for _, k := range c.Keys {
		s, err1 := note.NewSigner(k.Skey)
		v, err2 := note.NewVerifier(k.Vkey)
		check(err1 == nil && err2 == nil && s.KeyHash() == v.KeyHash() && s.Name() == v.Name(),
			"keys %s: %v %v", k.Vkey, err1, err2)
	}
	// Signing: Go signs the same text with our private key to the same bytes.
	for _, sc := range c.Sign {
		s, err := note.NewSigner(sc.Skey)
		if err != nil {
			check(false, "NewSigner: %v", err)
			continue
		}
		msg, err := note.Sign(&note.Note{Text: sc.Text}, s)
		check(err == nil && string(msg) == sc.Msg, "note.Sign differs:\n%q\n%q", msg, sc.Msg)
	}
	// Notes: note.Open with the given verifier keys.
	for i, nc := range c.Notes {
		var vs []note.Verifier
		for _, k := range nc.Vkeys {
			v, err := note.NewVerifier(k)
			if err != nil {
				check(false, "note %d: NewVerifier: %v", i, err)
			}
			vs = append(vs, v)
		}
		n, err := note.Open([]byte(nc.Msg), note.VerifierList(vs...))
		if nc.Valid {
			check(err == nil && n.Text == nc.Text && len(n.Sigs) == nc.Sigs, "note %d: Open: %v", i, err)
		} else {
			check(err != nil, "note %d: Open accepted an invalid note", i)
		}
	}
	// Trees.
	for ti, t := range c.Trees {
		var storage []tlog.Hash
		r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = storage[x]
			}
			return out, nil
		})
		for i, l := range t.Leaves {
			leaf, err := base64.StdEncoding.DecodeString(l)
			if err != nil {
				check(false, "tree %d leaf %d: %v", ti, i, err)
				continue
			}
			// Leaf bytes: rebuilt here from the fields (docs/chain-spec.md §7.1).
			f := t.LeafFields[i]
			var b bytes.Buffer
			frame(&b, "sealtrail.leaf.v1")
			frame(&b, f.OrgID)
			frame(&b, f.AgentID)
			var seq [8]byte
			binary.BigEndian.PutUint64(seq[:], f.Seq)
			b.Write(seq[:])
			lh, _ := hex.DecodeString(f.LinkHash)
			b.Write(lh)
			check(bytes.Equal(b.Bytes(), leaf), "tree %d leaf %d: leaf bytes differ", ti, i)

			hs, err := tlog.StoredHashes(int64(i), leaf, r)
			if err != nil {
				check(false, "StoredHashes: %v", err)
				continue
			}
			storage = append(storage, hs...)
		}
		// Our stored hash array is Go's, index for index.
		same := len(storage) == len(t.Stored)
		for i := 0; same && i < len(storage); i++ {
			same = storage[i] == t.Stored[i]
		}
		check(same, "tree %d: stored hashes differ (go %d, rust %d)", ti, len(storage), len(t.Stored))
		for s := 1; s <= len(t.Roots); s++ {
			h, err := tlog.TreeHash(int64(s), r)
			check(err == nil && h == t.Roots[s-1], "tree %d: TreeHash(%d)", ti, s)
		}
		for _, p := range t.Inclusion {
			root := t.Roots[p.Size-1]
			leaf, _ := base64.StdEncoding.DecodeString(t.Leaves[p.Index])
			err := tlog.CheckRecord(p.Proof, p.Size, root, p.Index, tlog.RecordHash(leaf))
			check((err == nil) == p.Valid, "tree %d: CheckRecord(size %d, index %d) = %v, want valid=%v", ti, p.Size, p.Index, err, p.Valid)
			if p.Valid {
				gp, err := tlog.ProveRecord(p.Size, p.Index, r)
				check(err == nil && eq(gp, p.Proof), "tree %d: ProveRecord(%d, %d) differs", ti, p.Size, p.Index)
			}
		}
		for _, p := range t.Consistency {
			err := tlog.CheckTree(p.Proof, p.Size, t.Roots[p.Size-1], p.Old, t.Roots[p.Old-1])
			check((err == nil) == p.Valid, "tree %d: CheckTree(%d, %d) = %v, want valid=%v", ti, p.Size, p.Old, err, p.Valid)
			if p.Valid {
				gp, err := tlog.ProveTree(p.Size, p.Old, r)
				check(err == nil && eq(gp, p.Proof), "tree %d: ProveTree(%d, %d) differs", ti, p.Size, p.Old)
			}
		}
	}
	// Checkpoints: the log's signature and every witness cosignature verify,
	// and the body is the C2SP checkpoint of the stated tree head.
	for i, cp := range c.Checkpoints {
		lv, err := note.NewVerifier(cp.LogVkey)
		if err != nil {
			check(false, "checkpoint %d: %v", i, err)
			continue
		}
		vs := []note.Verifier{lv}
		for _, k := range cp.WitnessVkeys {
			w, err := newCosigVerifier(k)
			if err != nil {
				check(false, "checkpoint %d: witness key: %v", i, err)
				continue
			}
			vs = append(vs, w)
		}
		n, err := note.Open([]byte(cp.Note), note.VerifierList(vs...))
		check(err == nil && len(n.Sigs) == 1+len(cp.WitnessVkeys), "checkpoint %d: Open: %v", i, err)
		if err != nil {
			continue
		}
		want := fmt.Sprintf("%s\n%d\n%s\ntime %d\n", cp.Origin, cp.Size, cp.Root, cp.Time)
		check(n.Text == want, "checkpoint %d: body %q, want %q", i, n.Text, want)
		check(n.Sigs[0].Name == cp.Origin, "checkpoint %d: log key name is not the origin", i)
	}
	for i, cs := range c.Cosignatures {
		v, err := newCosigVerifier(cs.Vkey)
		if err != nil {
			check(false, "cosignature %d: %v", i, err)
			continue
		}
		_, err = note.Open([]byte(cs.Text+"\n"+cs.Line), note.VerifierList(v))
		if cs.Valid {
			check(err == nil && v.last == cs.Timestamp, "cosignature %d: %v (time %d)", i, err, v.last)
		} else {
			check(err != nil, "cosignature %d: accepted an invalid cosignature", i)
		}
	}

	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}

func eq(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
