package yjs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWriteFuzzCorpus regenerates the committed seed corpus under
// testdata/fuzz from the generated cases (all crafted updates plus a
// sample of real ones). It only runs with YJS_WRITE_CORPUS=1:
//
//	YJS_WRITE_CORPUS=1 go test ./sync/yjs -run TestWriteFuzzCorpus
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("YJS_WRITE_CORPUS") != "1" {
		t.Skip("set YJS_WRITE_CORPUS=1 to rewrite testdata/fuzz seeds")
	}
	cf := loadCases(t)
	var picked [][]byte
	for si, s := range cf.Sessions {
		for i, u := range s.Updates {
			// Every crafted update; a spread sample of the small generated ones.
			if len(s.Names) > 0 || (si%17 == 0 && i%5 == 0 && len(u) < 1500) {
				picked = append(picked, b64(t, u))
			}
		}
	}
	write := func(target string, inputs [][]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(in)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: %d seeds", target, len(inputs))
	}
	sep := []byte{0xff, 0xfe}
	var merges, diffs [][]byte
	for i := range picked {
		merges = append(merges, bytes.Join([][]byte{picked[i], picked[(i+5)%len(picked)]}, sep))
		diffs = append(diffs, bytes.Join([][]byte{picked[i], EncodeStateVector(map[uint64]uint64{uint64(i): uint64(i % 9), 77: uint64(i % 13)})}, sep))
	}
	var svs [][]byte
	for _, s := range cf.Sessions {
		for _, c := range s.Checks {
			if c.Op == "diff" && len(svs) < 40 {
				svs = append(svs, b64(t, c.SV))
			}
		}
	}
	var sorts [][]byte
	for i := 0; i < 20; i++ {
		in := make([]byte, 10+i*7)
		for k := range in {
			in[k] = byte((k*37 + i*11) % 256)
		}
		sorts = append(sorts, in)
	}
	jsonDir := filepath.Join("testdata", "fuzz", "FuzzCanonicalJSON")
	if err := os.RemoveAll(jsonDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(jsonDir, 0o755); err != nil {
		t.Fatal(err)
	}
	jsonSeeds := []string{`{"bold":true}`, `{"image":"a.png"}`, `"#ff0000"`, `null`, `[1,2]`, ` { "b" : 1 , "a" : [ 1.0 ] } `,
		`{"2":1,"1":2,"x":3}`, `1e21`, `1e-7`, `-0`, `"\u00e9\/\ud800"`, `{"a":1,"a":2}`, `{"__proto__":{"x":[]}}`}
	for i, js := range jsonSeeds {
		body := "go test fuzz v1\nstring(" + strconv.Quote(js) + ")\n"
		if err := os.WriteFile(filepath.Join(jsonDir, fmt.Sprintf("seed-%03d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("FuzzDecodeStateVector", svs)
	write("FuzzJSSort", sorts)
	write("FuzzDecodeUpdate", picked)
	write("FuzzMergeUpdates", merges)
	write("FuzzDiffUpdate", diffs)
}
