package rest

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

var podLogResource = schema.GroupResource{Resource: "pods/log"}

// podLogOptions are the PodLogOptions query parameters, checked like
// upstream's ValidatePodLogOptions, in the form the kubelet's
// /containerLogs takes them.
func podLogOptions(q url.Values, name string) (container string, follow, insecure bool, kubelet url.Values, err error) {
	kubelet = url.Values{}
	for _, p := range []string{"follow", "previous", "timestamps"} {
		b, err := queryBool(q, p)
		if err != nil {
			return "", false, false, nil, err
		}
		if b {
			kubelet.Set(p, "true")
		}
	}
	follow = kubelet.Get("follow") == "true"
	if insecure, err = queryBool(q, "insecureSkipTLSVerifyBackend"); err != nil {
		return "", false, false, nil, err
	}
	var errs field.ErrorList
	for _, p := range []struct {
		name string
		min  int64
	}{{"tailLines", 0}, {"limitBytes", 1}, {"sinceSeconds", 1}} {
		n, err := queryInt(q, p.name)
		if err != nil {
			return "", false, false, nil, err
		}
		if n == nil {
			continue
		}
		if *n < p.min {
			errs = append(errs, field.Invalid(field.NewPath(p.name), *n, fmt.Sprintf("must be greater than or equal to %d", p.min)))
		}
		kubelet.Set(p.name, strconv.FormatInt(*n, 10))
	}
	if v := q.Get("sinceTime"); v != "" {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			return "", false, false, nil, apierrors.NewBadRequest(fmt.Sprintf("query parameter sinceTime=%q is not an RFC 3339 time", v))
		}
		if kubelet.Has("sinceSeconds") {
			errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
		}
		kubelet.Set("sinceTime", t.UTC().Format(time.RFC3339))
	}
	switch s := q.Get("stream"); s {
	case "", "All":
	case "Stdout", "Stderr":
		if kubelet.Has("tailLines") {
			errs = append(errs, field.Forbidden(field.NewPath("stream"), "`tailLines` and specific `stream` are mutually exclusive for now"))
		}
		kubelet.Set("stream", s)
	default:
		errs = append(errs, field.NotSupported(field.NewPath("stream"), s, []string{"All", "Stdout", "Stderr"}))
	}
	if len(errs) > 0 {
		return "", false, false, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	return q.Get("container"), follow, insecure, kubelet, nil
}

// podLog serves GET pods/{name}/log: it asks the pod's kubelet for
// /containerLogs and streams the answer through, flushing every chunk when
// following so `kubectl logs -f` is live.
func (h *Handler) podLog(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	if ri.Verb != "get" {
		writeError(w, apierrors.NewMethodNotSupported(podLogResource, r.Method))
		return
	}
	container, follow, insecure, params, err := podLogOptions(r.URL.Query(), ri.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := h.podTarget(r, ri, st, container, true)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	if t.base == nil {
		// Upstream answers an unscheduled pod's log with an empty stream:
		// there is no container yet, hence no output.
		w.WriteHeader(http.StatusOK)
		return
	}
	loc := *t.base
	loc.Path = fmt.Sprintf("/containerLogs/%s/%s/%s", t.pod.Namespace, t.pod.Name, t.container)
	loc.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, loc.String(), nil)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	resp, err := h.Kubelet.Transport(insecure).RoundTrip(req)
	if err != nil {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("cannot reach the kubelet of node %s: %v", t.node, err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		writeError(w, kubeletError(resp.StatusCode, strings.TrimRight(string(body), "\r\n"), podLogResource, ri.Name, t.node))
		return
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if follow {
		// Send the headers now: a follow may wait long for its first line,
		// and the client's Stream() returns only once it has them.
		_ = rc.Flush()
	}
	buf := make([]byte, 32*1024)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client went away; closing resp.Body tells the kubelet
			}
			if follow {
				_ = rc.Flush()
			}
		}
		if rerr != nil {
			if rerr != io.EOF && r.Context().Err() == nil {
				slog.Debug("pods/log: kubelet stream ended", "pod", ri.Namespace+"/"+ri.Name, "node", t.node, "err", rerr)
			}
			return
		}
	}
}
