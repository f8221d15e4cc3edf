package tables

import (
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// testNow is the fixed "now" of every test, so Age cells are stable.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	now = func() time.Time { return testNow }
	os.Exit(m.Run())
}

// ago is a creation timestamp d before testNow.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

// columnSpec renders a header as "Name:type" plus ":wide" for priority 1,
// which keeps golden expectations readable.
func columnSpec(cols []metav1.TableColumnDefinition) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name + ":" + c.Type
		if c.Priority > 0 {
			out[i] += ":wide"
		}
	}
	return out
}

func assertColumns(t *testing.T, p Printer, want ...string) {
	t.Helper()
	if got := columnSpec(p.Columns()); !reflect.DeepEqual(got, want) {
		t.Errorf("columns:\n got %q\nwant %q", got, want)
	}
}

func assertCells(t *testing.T, p Printer, obj runtime.Object, want ...interface{}) {
	t.Helper()
	got, err := p.Cells(obj)
	if err != nil {
		t.Fatalf("Cells: %v", err)
	}
	if len(got) != len(p.Columns()) {
		t.Errorf("%d cells for %d columns", len(got), len(p.Columns()))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cells:\n got %s\nwant %s", show(got), show(want))
	}
}

// show prints cells with their Go types, since "3" and int64(3) differ on
// the wire.
func show(cells []interface{}) string {
	s := "["
	for i, c := range cells {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%#v", c)
	}
	return s + "]"
}

func ptr[T any](v T) *T { return &v }
