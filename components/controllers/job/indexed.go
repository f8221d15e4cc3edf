package job

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// An Indexed Job runs one successful pod per index 0..completions-1. Each
// pod knows its index from the batch.kubernetes.io/job-completion-index
// annotation (and label), from the JOB_COMPLETION_INDEX environment
// variable, and from its hostname "<job>-<index>". status.completedIndexes
// lists the finished indexes compactly, as upstream: "0-2,5".

const noIndex = -1

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// completionIndex reads a pod's index, or noIndex.
func completionIndex(pod *corev1.Pod) int {
	v, ok := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return noIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return noIndex
	}
	return i
}

// validIndex: the pod has an index below completions.
func validIndex(job *batchv1.Job, pod *corev1.Pod) bool {
	i := completionIndex(pod)
	return i != noIndex && job.Spec.Completions != nil && i < int(*job.Spec.Completions)
}

// indexSet is a set of completion indexes.
type indexSet map[int]bool

// parseIndexes reads "0-2,5" back, ignoring anything at or past completions.
func parseIndexes(s string, completions int) indexSet {
	out := indexSet{}
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := first; i <= last && i < completions; i++ {
			out[i] = true
		}
	}
	return out
}

// String writes the set as sorted ranges: {0,1,2,5} → "0-2,5".
func (s indexSet) String() string {
	idx := make([]int, 0, len(s))
	for i := range s {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// pendingIndexes returns up to n indexes that have neither succeeded nor an
// active pod, lowest first.
func pendingIndexes(job *batchv1.Job, succeeded indexSet, active []*corev1.Pod, n int) []int {
	busy := indexSet{}
	for _, p := range active {
		busy[completionIndex(p)] = true
	}
	var out []int
	for i := 0; i < int(*job.Spec.Completions) && len(out) < n; i++ {
		if !succeeded[i] && !busy[i] {
			out = append(out, i)
		}
	}
	return out
}

// surplusIndexedPods splits active pods into those to remove (no valid
// index, an index already succeeded, or a second pod for one index) and
// the rest.
func surplusIndexedPods(job *batchv1.Job, succeeded indexSet, active []*corev1.Pod) (rm, keep []*corev1.Pod) {
	seen := indexSet{}
	sorted := append([]*corev1.Pod(nil), active...)
	sort.SliceStable(sorted, func(i, j int) bool { return completionIndex(sorted[i]) < completionIndex(sorted[j]) })
	for _, p := range sorted {
		i := completionIndex(p)
		if !validIndex(job, p) || succeeded[i] || seen[i] {
			rm = append(rm, p)
			continue
		}
		seen[i] = true
		keep = append(keep, p)
	}
	return rm, keep
}

// withIndex stamps a pod template with its index, as upstream does.
func withIndex(job *batchv1.Job, t *corev1.PodTemplateSpec, index int) {
	v := strconv.Itoa(index)
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[batchv1.JobCompletionIndexAnnotation] = v
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Labels[batchv1.JobCompletionIndexAnnotation] = v
	t.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
}

// addIndexEnv gives every container JOB_COMPLETION_INDEX from the pod's
// annotation (the downward API), unless it already sets the variable.
func addIndexEnv(t *corev1.PodTemplateSpec) {
	add := func(cs []corev1.Container) {
		for i := range cs {
			found := false
			for _, e := range cs[i].Env {
				found = found || e.Name == "JOB_COMPLETION_INDEX"
			}
			if !found {
				cs[i].Env = append(cs[i].Env, corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation)},
				}})
			}
		}
	}
	add(t.Spec.InitContainers)
	add(t.Spec.Containers)
}
