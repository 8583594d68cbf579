package yjs

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// genDir holds the Node generator and checker and their pinned yjs.
const genDir = "testdata/gen"

// installHint is the command that makes the Node cross-check runnable.
const installHint = "npm ci --prefix sync/yjs/testdata/gen (or bash scripts/ci.d/yjs.sh)"

type caseFile struct {
	Yjs      string        `json:"yjs"`
	Sessions []caseSession `json:"sessions"`
}

type caseSession struct {
	ID      string      `json:"id"`
	Names   []string    `json:"names"`
	Updates []string    `json:"updates"`
	Canon   []string    `json:"canon"` // yjs's re-encoding of each update
	Checks  []caseCheck `json:"checks"`
}

// caseCheck is one yjs result: Out is base64 bytes, or {"error": "..."}
// when yjs threw.
type caseCheck struct {
	Op  string          `json:"op"` // merge, diff or sv
	In  json.RawMessage `json:"in"` // update index, or indexes for merge
	SV  string          `json:"sv"` // diff only
	Out json.RawMessage `json:"out"`
}

// loadCases reads testdata/cases.json.gz, or the file named by YJS_CASES
// (a larger or differently seeded run of gen.mjs, for stress checks).
func loadCases(tb testing.TB) *caseFile {
	tb.Helper()
	path := "testdata/cases.json.gz"
	if p := os.Getenv("YJS_CASES"); p != "" {
		path = p
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var cf caseFile
	if err := json.NewDecoder(zr).Decode(&cf); err != nil {
		tb.Fatal(err)
	}
	return &cf
}

func b64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// run applies one check's operation in Go.
func (c caseCheck) run(tb testing.TB, updates [][]byte) ([]byte, error) {
	tb.Helper()
	switch c.Op {
	case "merge":
		var idx []int
		if err := json.Unmarshal(c.In, &idx); err != nil {
			tb.Fatal(err)
		}
		in := make([][]byte, 0, len(idx))
		for _, i := range idx {
			in = append(in, updates[i])
		}
		return MergeUpdates(in)
	case "diff":
		var i int
		if err := json.Unmarshal(c.In, &i); err != nil {
			tb.Fatal(err)
		}
		return DiffUpdate(updates[i], b64(tb, c.SV))
	case "sv":
		var i int
		if err := json.Unmarshal(c.In, &i); err != nil {
			tb.Fatal(err)
		}
		return EncodeStateVectorFromUpdate(updates[i])
	}
	tb.Fatalf("unknown op %q", c.Op)
	return nil, nil
}

// statePair is a Go result that differs from yjs's bytes and goes to the
// Node checker.
type statePair struct {
	ID      string   `json:"id"`
	Got     string   `json:"got"`
	Want    string   `json:"want"`
	Context []string `json:"context"`
}

// TestCrossCheckYjs runs every generated case (see testdata/gen/gen.mjs)
// and requires Go's bytes to equal yjs's, or, when they differ, the same
// document state in yjs, confirmed by testdata/gen/check.mjs. yjs errors
// must be Go errors.
func TestCrossCheckYjs(t *testing.T) {
	cf := loadCases(t)
	var byteEqual, errorsAgree, checks int
	var pairs []statePair
	var sample []statePair
	for _, s := range cf.Sessions {
		updates := make([][]byte, len(s.Updates))
		for i, u := range s.Updates {
			updates[i] = b64(t, u)
		}
		for ci, c := range s.Checks {
			checks++
			id := fmt.Sprintf("%s/%d/%s", s.ID, ci, c.Op)
			got, err := c.run(t, updates)
			var want string
			if json.Unmarshal(c.Out, &want) != nil {
				var yjsErr struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(c.Out, &yjsErr); err != nil {
					t.Fatalf("%s: bad expected value %s", id, c.Out)
				}
				if err == nil {
					t.Errorf("%s: yjs failed (%s) but Go returned %x", id, yjsErr.Error, got)
					continue
				}
				errorsAgree++
				continue
			}
			if err != nil {
				t.Errorf("%s: yjs succeeded but Go failed: %v", id, err)
				continue
			}
			wantBytes := b64(t, want)
			pair := statePair{ID: id, Got: base64.StdEncoding.EncodeToString(got), Want: want, Context: s.Updates}
			if bytes.Equal(got, wantBytes) {
				byteEqual++
				if len(sample) < 12 && c.Op != "sv" {
					sample = append(sample, pair)
				}
				continue
			}
			if c.Op == "sv" {
				t.Errorf("%s: state vector\n got %x\nwant %x", id, got, wantBytes)
				continue
			}
			pairs = append(pairs, pair)
		}
	}
	t.Logf("yjs %s: %d sessions, %d checks: %d byte-for-byte, %d errors in both, %d differ in bytes",
		cf.Yjs, len(cf.Sessions), checks, byteEqual, errorsAgree, len(pairs))
	if checks < 500 && os.Getenv("YJS_CASES") == "" {
		t.Fatalf("only %d checks; the issue asks for at least 500", checks)
	}
	if len(pairs) == 0 && len(sample) == 0 {
		return
	}
	// The Node checker runs on every mismatch, and on a few byte-equal
	// results so that the checker itself is exercised in CI.
	verdicts := runNodeCheck(t, append(pairs, sample...))
	stateEqual := 0
	for i, v := range verdicts {
		if i >= len(pairs) {
			if !v.Equal {
				t.Errorf("node check rejects byte-equal pair %s: %+v", v.ID, v)
			}
			continue
		}
		if v.Equal {
			stateEqual++
			continue
		}
		t.Errorf("%s: bytes differ and yjs state differs: %+v\n got %s\nwant %s", v.ID, v, pairs[i].Got, pairs[i].Want)
	}
	t.Logf("of %d byte mismatches, %d give the same document state in yjs", len(pairs), stateEqual)
}

type verdict struct {
	ID          string `json:"id"`
	Equal       bool   `json:"equal"`
	Fresh       bool   `json:"fresh"`
	WithContext bool   `json:"withContext"`
	Error       string `json:"error"`
}

// requireNode skips (or, under WEBHOST_TEST_STRICT=1, fails) when node or
// the generator's node_modules are missing.
func requireNode(tb testing.TB) string {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(genDir, "node_modules", "yjs", "package.json"))
	}
	if err != nil {
		msg := fmt.Sprintf("node or yjs node_modules missing (%v); run: %s", err, installHint)
		if os.Getenv("WEBHOST_TEST_STRICT") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return node
}

func runNodeCheck(t *testing.T, pairs []statePair) []verdict {
	t.Helper()
	node := requireNode(t)
	in := filepath.Join(t.TempDir(), "pairs.json")
	data, err := json.Marshal(map[string]any{"pairs": pairs})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "check.mjs", in)
	cmd.Dir = genDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, stderr.String())
	}
	var verdicts []verdict
	if err := json.Unmarshal(out, &verdicts); err != nil {
		t.Fatalf("node check.mjs output: %v\n%s", err, out)
	}
	if len(verdicts) != len(pairs) {
		t.Fatalf("node check.mjs returned %d verdicts for %d pairs", len(verdicts), len(pairs))
	}
	return verdicts
}

// TestRoundTripGenerated decodes every update yjs produced in the
// generated sessions and requires Encode to give the bytes yjs writes when
// it re-encodes the same update (its V1 -> V2 -> V1 conversion, which runs
// the struct reader and writer that merge and diff use).
func TestRoundTripGenerated(t *testing.T) {
	cf := loadCases(t)
	n := 0
	for _, s := range cf.Sessions {
		for i, u := range s.Canon {
			raw := b64(t, s.Updates[i])
			canon := b64(t, u)
			dec, err := DecodeUpdate(raw)
			if err != nil {
				t.Fatalf("%s update %d: %v", s.ID, i, err)
			}
			if err := ValidateUpdate(raw); err != nil {
				t.Fatalf("%s update %d: ValidateUpdate: %v", s.ID, i, err)
			}
			if got := dec.Encode(); !bytes.Equal(got, canon) {
				t.Fatalf("%s update %d: round trip\n got %x\nwant %x", s.ID, i, got, canon)
			}
			n++
		}
	}
	t.Logf("%d updates round-trip byte for byte", n)
}
