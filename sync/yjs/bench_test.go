package yjs

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// benchInput is one workload, taken from the generated sessions so that Go
// and the yjs baseline see identical bytes.
type benchInput struct {
	name   string
	op     string   // merge, diff or sv
	inputs [][]byte // merge: updates; diff: update, state vector; sv: update
}

func (in benchInput) bytes() int64 {
	n := 0
	for _, u := range in.inputs {
		n += len(u)
	}
	return int64(n)
}

var (
	benchOnce   sync.Once
	benchInputs []benchInput
)

// loadBenchInputs picks the workloads: the largest compaction-sized
// session's incremental updates merged at once, two full states merged, a
// sync-step-2 diff of the merged document, and its state vector.
func loadBenchInputs(b *testing.B) []benchInput {
	benchOnce.Do(func() {
		cf := loadCases(b)
		var longest *caseSession
		for i := range cf.Sessions {
			s := &cf.Sessions[i]
			if len(s.Names) == 0 && (longest == nil || len(s.Updates) > len(longest.Updates)) {
				longest = s
			}
		}
		var updates [][]byte
		for _, u := range longest.Updates {
			updates = append(updates, b64(b, u))
		}
		// The session's merge-all check lists its incremental updates and
		// the final full states; the first merge check covers them all.
		var all []int
		if err := json.Unmarshal(longest.Checks[0].In, &all); err != nil {
			b.Fatal(err)
		}
		var compaction [][]byte
		for _, i := range all {
			compaction = append(compaction, updates[i])
		}
		merged, err := MergeUpdates(compaction)
		if err != nil {
			b.Fatal(err)
		}
		last := compaction[len(compaction)-1]
		prev := compaction[len(compaction)-2]
		half, err := MergeUpdates(compaction[:len(compaction)/2])
		if err != nil {
			b.Fatal(err)
		}
		halfSV, err := EncodeStateVectorFromUpdate(half)
		if err != nil {
			b.Fatal(err)
		}
		typing := typingSession(b, 2000, 3)
		typed, err := MergeUpdates(typing)
		if err != nil {
			b.Fatal(err)
		}
		snapshot, err := MergeUpdates(typing[:1900])
		if err != nil {
			b.Fatal(err)
		}
		snapSV, err := EncodeStateVectorFromUpdate(snapshot)
		if err != nil {
			b.Fatal(err)
		}
		benchInputs = []benchInput{
			{name: "merge/typing=2000", op: "merge", inputs: typing},
			{name: "merge/snapshot+100", op: "merge", inputs: append([][]byte{snapshot}, typing[1900:]...)},
			{name: "diff/typing-doc", op: "diff", inputs: [][]byte{typed, snapSV}},
			{name: "sv/typing-doc", op: "sv", inputs: [][]byte{typed}},
			{name: fmt.Sprintf("merge/updates=%d", len(compaction)), op: "merge", inputs: compaction},
			{name: "merge/updates=2", op: "merge", inputs: [][]byte{prev, last}},
			{name: "diff/sync-step2", op: "diff", inputs: [][]byte{merged, halfSV}},
			{name: "sv/merged", op: "sv", inputs: [][]byte{merged}},
		}
	})
	return benchInputs
}

func runGo(in benchInput) error {
	var err error
	switch in.op {
	case "merge":
		_, err = MergeUpdates(in.inputs)
	case "diff":
		_, err = DiffUpdate(in.inputs[0], in.inputs[1])
	case "sv":
		_, err = EncodeStateVectorFromUpdate(in.inputs[0])
	}
	return err
}

// nodeBaseline is one long-lived `node bench.mjs` process shared by the
// baseline sub-benchmarks.
type nodeBaseline struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	loaded map[string]bool
	err    error
}

var baseline nodeBaseline

func (nb *nodeBaseline) start(b *testing.B) error {
	if nb.cmd != nil || nb.err != nil {
		return nb.err
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(genDir, "node_modules", "yjs", "package.json"))
	}
	if err != nil {
		nb.err = fmt.Errorf("baseline needs node and yjs (%w); run: %s", err, installHint)
		return nb.err
	}
	cmd := exec.Command(node, "bench.mjs")
	cmd.Dir = genDir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		nb.err = err
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		nb.err = err
		return err
	}
	if err := cmd.Start(); err != nil {
		nb.err = err
		return err
	}
	nb.cmd, nb.stdin = cmd, stdin
	nb.out = bufio.NewScanner(stdout)
	nb.out.Buffer(make([]byte, 1<<16), 1<<20)
	nb.loaded = map[string]bool{}
	return nil
}

func (nb *nodeBaseline) call(msg any, reply any) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := nb.stdin.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write to node: %w", err)
	}
	if !nb.out.Scan() {
		return fmt.Errorf("node exited: %v", nb.out.Err())
	}
	return json.Unmarshal(nb.out.Bytes(), reply)
}

// run makes node execute the workload n times; it returns node's own time.
func (nb *nodeBaseline) run(b *testing.B, in benchInput, n int) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	if err := nb.start(b); err != nil {
		b.Skip(err)
	}
	if !nb.loaded[in.name] {
		enc := make([]string, len(in.inputs))
		for i, u := range in.inputs {
			enc[i] = base64.StdEncoding.EncodeToString(u)
		}
		var ok struct{ OK bool }
		if err := nb.call(map[string]any{"cmd": "load", "id": in.name, "op": in.op, "inputs": enc}, &ok); err != nil || !ok.OK {
			b.Fatalf("load %s in node: %v", in.name, err)
		}
		nb.loaded[in.name] = true
	}
	var res struct{ NS int64 }
	b.ResetTimer()
	if err := nb.call(map[string]any{"cmd": "run", "id": in.name, "n": n}, &res); err != nil {
		b.Fatalf("run %s in node: %v", in.name, err)
	}
	b.StopTimer()
	b.ReportMetric(float64(res.NS)/float64(n), "node-ns/op")
}

// BenchmarkUpdates measures MergeUpdates, DiffUpdate and
// EncodeStateVectorFromUpdate (impl=go) against yjs 13.6.33 in Node on the
// same bytes in the same run (impl=baseline; node-ns/op is Node's own
// timing, ns/op adds one pipe round trip per b.N batch).
func BenchmarkUpdates(b *testing.B) {
	for _, in := range loadBenchInputs(b) {
		b.Run(in.name+"/impl=baseline", func(b *testing.B) {
			b.SetBytes(in.bytes())
			baseline.run(b, in, b.N)
		})
		b.Run(in.name+"/impl=go", func(b *testing.B) {
			b.SetBytes(in.bytes())
			b.ReportAllocs()
			for b.Loop() {
				if err := runGo(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// typingSession builds n small updates as clients typing produce them:
// each inserts a few characters (sometimes outside the BMP) after its own
// previous ones, and every tenth update deletes a range.
func typingSession(b *testing.B, n, clients int) [][]byte {
	b.Helper()
	pieces := []string{"a", "bc", "é", "😀", " ", "xyz", "中"}
	clocks := make([]uint64, clients)
	var out [][]byte
	for i := 0; i < n; i++ {
		c := i % clients
		client := uint64(1000 + c*7919)
		u := &Update{DeleteSet: DeleteSet{}}
		if i%10 == 9 && clocks[c] > 4 {
			u.DeleteSet[client] = []DeleteRange{{Clock: clocks[c] - 4, Len: 2}}
		} else {
			it := &Item{ID: ID{Client: client, Clock: clocks[c]}, Content: &ContentString{Str: pieces[(i*7+c)%len(pieces)]}}
			if clocks[c] == 0 {
				it.Parent, it.ParentName = ParentRoot, "text"
			} else {
				it.Origin = &ID{Client: client, Clock: clocks[c] - 1}
			}
			u.Structs = []Struct{it}
			clocks[c] += it.Len()
		}
		out = append(out, u.Encode())
	}
	return out
}
