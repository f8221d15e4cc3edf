package images

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
)

// Ensure makes the image available according to the container's
// imagePullPolicy and returns it:
//
//   - Always: pull (cheap when nothing changed: manifest and config only,
//     layers already unpacked are not fetched). A failed pull is an error
//     even if an older copy is present, as in Kubernetes. Digest references
//     and local-only "localhost/..." images already present are not pulled.
//   - IfNotPresent: pull only if absent.
//   - Never: ErrImageNeverPull if absent.
//   - "": Kubernetes' default (Always for ":latest", else IfNotPresent).
//
// auth holds the pod's imagePullSecrets. Errors wrap ErrImagePull,
// ErrImageNeverPull or ErrInvalidImageName (see Reason).
func (s *Store) Ensure(ctx context.Context, ref string, policy corev1.PullPolicy, auth []corev1.Secret) (*Image, error) {
	r, err := parseReference(ref)
	if err != nil {
		return nil, &Error{Ref: ref, Kind: ErrInvalidImageName, Err: err}
	}
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if r.digest == "" && (r.norm == r.repo+":"+defaultImageTag) {
			policy = corev1.PullAlways
		}
	}
	img, present := s.Get(r.norm)
	switch policy {
	case corev1.PullNever:
		if !present {
			return nil, &Error{Ref: ref, Kind: ErrImageNeverPull}
		}
	case corev1.PullIfNotPresent:
	case corev1.PullAlways:
		if present && r.digest == "" && !r.local {
			present = false // pull again: the tag may have moved
		}
	default:
		return nil, &Error{Ref: ref, Kind: ErrImagePull, Err: fmt.Errorf("unknown pull policy %q", policy)}
	}
	if present {
		s.touch(img.ID)
		return img, nil
	}
	return s.pull(ctx, ref, r, auth)
}

// Pull fetches ref from its registry whatever the store holds.
func (s *Store) Pull(ctx context.Context, ref string, auth []corev1.Secret) (*Image, error) {
	r, err := parseReference(ref)
	if err != nil {
		return nil, &Error{Ref: ref, Kind: ErrInvalidImageName, Err: err}
	}
	return s.pull(ctx, ref, r, auth)
}

// pull runs one pull per reference at a time: concurrent callers share the
// first caller's pull (and its credentials). The shared pull is detached
// from the first caller's context so that caller giving up does not fail the
// others; it is bounded by the pull timeout instead.
func (s *Store) pull(ctx context.Context, ref string, r reference, auth []corev1.Secret) (*Image, error) {
	if r.local {
		return nil, &Error{Ref: ref, Kind: ErrImagePull, Err: errors.New(
			`"localhost/..." images are local-only and this one is not in the store (load it with "kubelab image load")`)}
	}
	ch := s.flights.DoChan("pull:"+r.norm, func() (any, error) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.pullTimeout)
		defer cancel()
		return s.doPull(pctx, r, auth)
	})
	select {
	case <-ctx.Done():
		return nil, &Error{Ref: ref, Kind: ErrImagePull, Err: ctx.Err()}
	case res := <-ch:
		if res.Err != nil {
			return nil, &Error{Ref: ref, Kind: ErrImagePull, Err: res.Err}
		}
		rec := res.Val.(*record)
		return s.imageFor(rec, r.norm)
	}
}

func (s *Store) doPull(ctx context.Context, r reference, auth []corev1.Secret) (*record, error) {
	start := time.Now()
	log := s.log.With("image", r.norm)
	log.Info("pulling image")
	nref, err := r.remoteRef(s.insecure)
	if err != nil {
		return nil, err
	}
	kc, secretErrs := keychainFromSecrets(auth)
	for _, e := range secretErrs {
		log.Warn("ignoring pull secret", "err", e)
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(s.platform),
		remote.WithUserAgent("kubelab-kubelet"),
	}
	if s.transport != nil {
		opts = append(opts, remote.WithTransport(s.transport))
	}
	desc, err := remote.Get(nref, opts...)
	if err != nil {
		log.Warn("pull failed", "duration", time.Since(start), "err", err)
		return nil, err
	}
	img, err := desc.Image() // picks s.platform out of an index
	if err != nil {
		log.Warn("pull failed", "duration", time.Since(start), "err", err)
		return nil, fmt.Errorf("resolve %s: %w", desc.Digest, err)
	}
	rec, st, err := s.importImage(ctx, img, []reference{r}, desc.Digest)
	if err != nil {
		log.Warn("pull failed", "duration", time.Since(start), "err", err)
		return nil, err
	}
	log.Info("pulled image", "id", rec.ID, "digest", desc.Digest.String(),
		"duration", time.Since(start).Round(time.Millisecond), "size", rec.Size,
		"layers", st.layers, "layersUnpacked", st.unpacked, "bytesUnpacked", st.unpackedBytes)
	return rec, nil
}
