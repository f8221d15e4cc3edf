package scheduler

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// How much of a decision is kept: enough to read, bounded for 5000 nodes.
const (
	maxExplainedRejected = 100
	maxExplainedScored   = 20
)

// Explanation is one scheduling decision, as served by
// GET /debug/scheduler/explain?pod=ns/name: the nodes looked at, why each
// rejected one was rejected, and how the best feasible ones scored.
type Explanation struct {
	Pod      string    `json:"pod"`
	Profile  string    `json:"profile"`
	Time     time.Time `json:"time"`
	Attempt  int       `json:"attempt"`
	Result   string    `json:"result"` // Scheduled, Unschedulable, Error
	Node     string    `json:"node,omitempty"`
	Message  string    `json:"message,omitempty"`
	Duration string    `json:"duration"`
	// TotalNodes in the cluster; NodesToFind is how many feasible nodes
	// the cycle looked for (percentageOfNodesToScore); Evaluated how many
	// it ran filters on; Feasible how many passed.
	TotalNodes  int           `json:"totalNodes"`
	NodesToFind int           `json:"nodesToFind"`
	Evaluated   int           `json:"evaluated"`
	Feasible    int           `json:"feasible"`
	Filters     []string      `json:"filters"`
	Scores      []PluginScore `json:"scorePlugins"`
	Nodes       []NodeVerdict `json:"nodes"`
	// Omitted counts nodes left out of Nodes to keep it short.
	Omitted int `json:"omitted,omitempty"`
}

// NodeVerdict is what the cycle thought of one node.
type NodeVerdict struct {
	Node     string        `json:"node"`
	Feasible bool          `json:"feasible"`
	Plugin   string        `json:"rejectedBy,omitempty"`
	Code     string        `json:"code,omitempty"`
	Reasons  []string      `json:"reasons,omitempty"`
	Scores   []PluginScore `json:"scores,omitempty"`
	Total    int64         `json:"total,omitempty"`
}

// PluginScore is one score plugin's say about a node: its raw score, the
// score after normalizing to 0..100, its weight and the product.
type PluginScore struct {
	Plugin     string `json:"plugin"`
	Raw        int64  `json:"raw,omitempty"`
	Normalized int64  `json:"normalized,omitempty"`
	Weight     int64  `json:"weight"`
	Weighted   int64  `json:"weighted,omitempty"`
}

func (ex *Explanation) addRejected(rejected map[string]*framework.Status) {
	names := make([]string, 0, len(rejected))
	for n := range rejected {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if i >= maxExplainedRejected {
			ex.Omitted += len(names) - i
			break
		}
		st := rejected[n]
		ex.Nodes = append(ex.Nodes, NodeVerdict{Node: n, Plugin: st.Plugin, Code: st.Code.String(), Reasons: st.Reasons})
	}
}

func (ex *Explanation) addScored(feasible []*framework.NodeInfo, totals []int64, per []pluginScores, prof *Profile) {
	for _, s := range prof.Scores {
		ex.Scores = append(ex.Scores, PluginScore{Plugin: s.Plugin.Name(), Weight: s.Weight})
	}
	order := make([]int, len(feasible))
	for i := range order {
		order[i] = i
	}
	if totals != nil {
		sort.SliceStable(order, func(a, b int) bool { return totals[order[a]] > totals[order[b]] })
	}
	var out []NodeVerdict
	for k, i := range order {
		if k >= maxExplainedScored {
			ex.Omitted += len(order) - k
			break
		}
		v := NodeVerdict{Node: feasible[i].Node.Name, Feasible: true}
		if totals != nil {
			v.Total = totals[i]
			for _, p := range per {
				v.Scores = append(v.Scores, PluginScore{Plugin: p.name, Raw: p.raw[i], Normalized: p.norm[i], Weight: p.weight, Weighted: p.norm[i] * p.weight})
			}
		}
		out = append(out, v)
	}
	ex.Nodes = append(out, ex.Nodes...)
}

// Summary is the one-line log of a decision.
func (ex *Explanation) Summary() string {
	if ex.Result == "Scheduled" {
		return fmt.Sprintf("%s → %s (%d/%d nodes evaluated, %d feasible, in %s)", ex.Pod, ex.Node, ex.Evaluated, ex.TotalNodes, ex.Feasible, ex.Duration)
	}
	return fmt.Sprintf("%s not scheduled: %s", ex.Pod, ex.Message)
}

// WriteText prints the explanation for a person.
func (ex *Explanation) WriteText(w io.Writer) {
	fmt.Fprintf(w, "pod %s (profile %s, attempt %d, %s)\n", ex.Pod, ex.Profile, ex.Attempt, ex.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "result: %s", ex.Result)
	if ex.Node != "" {
		fmt.Fprintf(w, " on %s", ex.Node)
	}
	fmt.Fprintf(w, " in %s\n", ex.Duration)
	if ex.Message != "" {
		fmt.Fprintf(w, "message: %s\n", ex.Message)
	}
	fmt.Fprintf(w, "nodes: %d in cluster, looking for %d feasible, %d evaluated, %d feasible\n", ex.TotalNodes, ex.NodesToFind, ex.Evaluated, ex.Feasible)
	fmt.Fprintf(w, "filters (in order, a node stops at its first rejection): %s\n", strings.Join(ex.Filters, ", "))
	var ws []string
	for _, s := range ex.Scores {
		ws = append(ws, fmt.Sprintf("%s×%d", s.Plugin, s.Weight))
	}
	fmt.Fprintf(w, "score plugins (weight): %s\n\n", strings.Join(ws, ", "))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tVERDICT\tTOTAL\tSCORES (plugin raw→normalized×weight)")
	for _, n := range ex.Nodes {
		if !n.Feasible {
			fmt.Fprintf(tw, "%s\trejected by %s: %s\t\t\n", n.Node, n.Plugin, strings.Join(n.Reasons, ", "))
			continue
		}
		mark := ""
		if n.Node == ex.Node {
			mark = " (chosen)"
		}
		var parts []string
		for _, s := range n.Scores {
			parts = append(parts, fmt.Sprintf("%s %d→%d×%d", s.Plugin, s.Raw, s.Normalized, s.Weight))
		}
		fmt.Fprintf(tw, "%s\tfeasible%s\t%d\t%s\n", n.Node, mark, n.Total, strings.Join(parts, ", "))
	}
	tw.Flush()
	if ex.Omitted > 0 {
		fmt.Fprintf(w, "(%d more nodes not shown)\n", ex.Omitted)
	}
}

// explainLog keeps the last N decisions, the latest per pod.
type explainLog struct {
	mu    sync.Mutex
	max   int
	order []string
	byPod map[string]*Explanation
}

func newExplainLog(max int) *explainLog {
	return &explainLog{max: max, byPod: map[string]*Explanation{}}
}

func (l *explainLog) add(ex *Explanation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byPod[ex.Pod]; !ok {
		l.order = append(l.order, ex.Pod)
	}
	l.byPod[ex.Pod] = ex
	for len(l.order) > l.max {
		delete(l.byPod, l.order[0])
		l.order = l.order[1:]
	}
}

func (l *explainLog) get(pod string) (*Explanation, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ex, ok := l.byPod[pod]
	return ex, ok
}

func (l *explainLog) recent(n int) []*Explanation {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Explanation
	for i := len(l.order) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, l.byPod[l.order[i]])
	}
	return out
}

// Explain returns the last decision about pod namespace/name.
func (s *Scheduler) Explain(namespace, name string) (*Explanation, bool) {
	return s.explain.get(namespace + "/" + name)
}

// ExplainPath is where Handler expects to be mounted.
const ExplainPath = "/debug/scheduler/explain"

// Handler serves GET /debug/scheduler/explain?pod=<ns>/<name>[&format=json];
// without pod it lists the latest 50 decisions.
func (s *Scheduler) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asJSON := r.URL.Query().Get("format") == "json"
		pod := r.URL.Query().Get("pod")
		if pod == "" {
			list := s.explain.recent(50)
			if asJSON {
				writeJSON(w, list)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "latest scheduling decisions (ask for one with ?pod=<namespace>/<name>):")
			for _, ex := range list {
				fmt.Fprintln(w, ex.Summary())
			}
			return
		}
		if !strings.Contains(pod, "/") {
			pod = "default/" + pod
		}
		ex, ok := s.explain.get(pod)
		if !ok {
			http.Error(w, fmt.Sprintf("no recent scheduling decision for pod %s", pod), http.StatusNotFound)
			return
		}
		if asJSON {
			writeJSON(w, ex)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ex.WriteText(w)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
