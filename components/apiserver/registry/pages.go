package registry

// Paginated lists (`?limit=500`, then `?continue=<token>`) let a client read
// a big collection in chunks, as kubectl get does. Every chunk shows the
// collection as it was when the first one was read: the continue token
// carries that revision and the key to resume from, and later chunks are
// read from etcd at that revision (410 Gone once etcd has compacted it).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubelab/kubelab/components/apiserver/storage"
)

// continueToken is what a continue parameter encodes (as upstream: JSON in
// base64).
type continueToken struct {
	APIVersion string `json:"v"`
	RV         int64  `json:"rv"`
	Start      string `json:"start"`
}

func encodeContinue(rv int64, start string) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", RV: rv, Start: start})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s, prefix string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.RV <= 0 || !strings.HasPrefix(t.Start, prefix) {
		return t, apierrors.NewBadRequest(fmt.Sprintf("invalid continue token %q", s))
	}
	return t, nil
}

// Page is one chunk of a list.
type Page struct {
	Items    []runtime.Object
	Rev      int64
	Continue string
}

// ListPage reads one chunk of at most limit matching objects (limit <= 0:
// all of them), starting where cont says or at the beginning.
func (st *Store) ListPage(ctx context.Context, ns string, sel Selectors, limit int64, cont string) (Page, error) {
	prefix := st.Info.Prefix(ns)
	if cont == "" {
		items, rev, err := st.List(ctx, ns, sel)
		if err != nil || limit <= 0 || int64(len(items)) <= limit {
			return Page{Items: items, Rev: rev}, err
		}
		last, _ := meta.Accessor(items[limit-1])
		next := st.Info.Key(last.GetNamespace(), last.GetName()) + "\x00"
		return Page{Items: items[:limit], Rev: rev, Continue: encodeContinue(rev, next)}, nil
	}
	tok, err := decodeContinue(cont, prefix)
	if err != nil {
		return Page{}, err
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	page := Page{Rev: tok.RV}
	start := tok.Start
	for {
		chunk := limit - int64(len(page.Items)) + 1 // one extra: is there more?
		kvs, more, err := st.etcd.Page(ctx, start, end, tok.RV, chunk)
		if errors.Is(err, storage.ErrCompacted) {
			return Page{}, apierrors.NewResourceExpired("the provided continue parameter is too old to display a consistent list result; start a new list without it")
		}
		if err != nil {
			return Page{}, err
		}
		for _, kv := range kvs {
			obj, err := st.Info.Decode(kv.Value, kv.ModRevision)
			if err != nil {
				return Page{}, err
			}
			if !st.Matches(obj, sel) {
				continue
			}
			if int64(len(page.Items)) == limit {
				page.Continue = encodeContinue(tok.RV, kv.Key)
				return page, nil
			}
			page.Items = append(page.Items, obj)
		}
		if !more || len(kvs) == 0 {
			return page, nil
		}
		start = kvs[len(kvs)-1].Key + "\x00"
	}
}
