package projections_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedQueriesRun executes every SQL example of
// docs/read-models.md against read models built from a real history, so
// the analysts' documentation cannot drift from the tables.
func TestDocumentedQueriesRun(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docs/read-models.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	if len(blocks) < 10 {
		t.Fatalf("only %d SQL examples found", len(blocks))
	}
	e := setup(t)
	e.runAll(t)
	ids := e.scenario(t, 4)
	e.waitCaughtUp(t)
	for _, b := range blocks {
		sql := strings.ReplaceAll(b[1], "<customer id>", ids[0].String())
		rows, err := e.pool.Query(context.Background(), sql)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			t.Errorf("documented query fails: %v\n%s", err, sql)
		}
	}
}
