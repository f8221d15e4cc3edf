package images

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is how Docker and Kubernetes spell Docker Hub in references;
// go-containerregistry spells it "index.docker.io" internally.
const (
	dockerHub       = "docker.io"
	ggcrDockerHub   = "index.docker.io"
	localOnlyHost   = "localhost"
	defaultImageTag = "latest"
)

// reference is a parsed image reference in the two spellings we need.
type reference struct {
	// norm is the Docker/Kubernetes normal form:
	// "docker.io/library/busybox:latest", "localhost/kubelab/busybox:v1",
	// "127.0.0.1:5000/app@sha256:...". It is the store's key.
	norm string
	// repo is norm without tag or digest ("docker.io/library/busybox").
	repo string
	// registry is the host[:port] as ggcr sees it ("index.docker.io").
	registry string
	// digest is set for digest references ("sha256:...").
	digest string
	// local: the registry is the bare word "localhost" (no port). Such
	// images come from `kubelab image load` or the kit's own builds, never
	// from a network registry (podman's convention), so they are never
	// pulled.
	local bool
}

// Normalize returns the normal form of an image reference the way Docker
// and Kubernetes write it: "busybox" → "docker.io/library/busybox:latest".
func Normalize(ref string) (string, error) {
	r, err := parseReference(ref)
	if err != nil {
		return "", err
	}
	return r.norm, nil
}

func parseReference(ref string) (reference, error) {
	if ref == "" || strings.TrimSpace(ref) != ref {
		return reference{}, fmt.Errorf("invalid image reference %q", ref)
	}
	parsed, err := name.ParseReference(ref, name.WithDefaultTag(defaultImageTag))
	if err != nil {
		return reference{}, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	reg := parsed.Context().RegistryStr()
	host := reg
	if host == ggcrDockerHub {
		host = dockerHub
	}
	r := reference{
		repo:     host + "/" + parsed.Context().RepositoryStr(),
		registry: reg,
		local:    reg == localOnlyHost,
	}
	switch p := parsed.(type) {
	case name.Digest:
		r.digest = p.DigestStr()
		r.norm = r.repo + "@" + r.digest
	case name.Tag:
		r.norm = r.repo + ":" + p.TagStr()
	default:
		return reference{}, fmt.Errorf("parse image reference %q: unexpected kind %T", ref, parsed)
	}
	return r, nil
}

// remoteRef is the reference to hand to remote.Get; insecure registries
// (plain HTTP) get name.Insecure. Loopback hosts with a port and RFC 1918
// addresses are plain HTTP in go-containerregistry already.
func (r reference) remoteRef(insecure map[string]bool) (name.Reference, error) {
	var opts []name.Option
	host, _, _ := strings.Cut(r.registry, ":")
	if insecure[r.registry] || insecure[host] {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(r.norm, opts...)
}

// repoOf strips the tag or digest from a normalised reference.
func repoOf(norm string) string {
	if i := strings.IndexByte(norm, '@'); i >= 0 {
		return norm[:i]
	}
	if i := strings.LastIndexByte(norm, ':'); i > strings.LastIndexByte(norm, '/') {
		return norm[:i]
	}
	return norm
}
