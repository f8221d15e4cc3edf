package images

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
)

func TestEnsurePolicies(t *testing.T) {
	reg := newRegistry(t, nil)
	ctx := context.Background()
	img1, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "app:v1", img1)
	absent := reg.host + "/app:absent"

	tests := []struct {
		name      string
		preload   bool
		ref       string
		policy    corev1.PullPolicy
		wantErr   error
		wantPulls int64 // manifest GETs
	}{
		{"IfNotPresent absent pulls", false, ref, corev1.PullIfNotPresent, nil, 1},
		{"IfNotPresent present does not pull", true, ref, corev1.PullIfNotPresent, nil, 0},
		{"Always present pulls", true, ref, corev1.PullAlways, nil, 1},
		{"Never absent", false, ref, corev1.PullNever, ErrImageNeverPull, 0},
		{"Never present", true, ref, corev1.PullNever, nil, 0},
		{"unknown tag", false, absent, corev1.PullIfNotPresent, ErrImagePull, 1},
		{"bad name", false, "UPPER/case", corev1.PullIfNotPresent, ErrInvalidImageName, 0},
		{"local-only absent", false, "localhost/kubelab/none:v1", corev1.PullAlways, ErrImagePull, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			if tc.preload {
				if _, err := s.Pull(ctx, tc.ref, nil); err != nil {
					t.Fatal(err)
				}
			}
			before := reg.manifests.Load()
			got, err := s.Ensure(ctx, tc.ref, tc.policy, nil)
			if pulls := reg.manifests.Load() - before; pulls != tc.wantPulls {
				t.Errorf("manifest GETs = %d, want %d", pulls, tc.wantPulls)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.ref) {
					t.Errorf("error %q does not name the image", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantID, _ := img1.ConfigName()
			if got.ID != wantID.String() || len(got.LowerDirs) != 2 {
				t.Fatalf("got ID %s with %d layers, want %s with 2", got.ID, len(got.LowerDirs), wantID)
			}
			dgst, _ := img1.Digest()
			if want := reg.host + "/app@" + dgst.String(); got.StatusImageID() != want {
				t.Errorf("StatusImageID = %q, want %q", got.StatusImageID(), want)
			}
		})
	}
}

func TestAlwaysReportsUnreachableRegistry(t *testing.T) {
	reg := newRegistry(t, nil)
	img, _ := random.Image(256, 1)
	ref := reg.push(t, "app:v1", img)
	s := newTestStore(t)
	if _, err := s.Pull(context.Background(), ref, nil); err != nil {
		t.Fatal(err)
	}
	// Same image under a registry address where nothing listens.
	s2, err := NewStore(s.root, WithLogger(s.log))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Ensure(context.Background(), "127.0.0.1:1/app:v1", corev1.PullAlways, nil)
	if !errors.Is(err, ErrImagePull) {
		t.Fatalf("err = %v, want ErrImagePull", err)
	}
	// IfNotPresent still serves the copy it has.
	if _, err := s2.Ensure(context.Background(), ref, corev1.PullIfNotPresent, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSharedLayerUnpackedOnce pushes two images sharing a base layer and
// checks the base is one directory, unpacked once.
func TestSharedLayerUnpackedOnce(t *testing.T) {
	reg := newRegistry(t, nil)
	base := layerOf(t, entry{name: "etc/os-release", body: "ID=kubelab\n"})
	a := imageOf(t, "a", base, layerOf(t, entry{name: "a", body: "a"}))
	b := imageOf(t, "b", base, layerOf(t, entry{name: "b", body: "b"}))
	refA, refB := reg.push(t, "a:v1", a), reg.push(t, "b:v1", b)

	s := newTestStore(t)
	ctx := context.Background()
	ia, err := s.Ensure(ctx, refA, corev1.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Mark the shared layer so a second unpack would be noticed.
	marker := filepath.Join(ia.LowerDirs[1], "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ib, err := s.Ensure(ctx, refB, corev1.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ia.LowerDirs[1] != ib.LowerDirs[1] {
		t.Fatalf("base layer dirs differ: %s vs %s", ia.LowerDirs[1], ib.LowerDirs[1])
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("shared layer was unpacked again")
	}
	entries, _ := os.ReadDir(s.layersDir())
	if len(entries) != 3 {
		t.Errorf("%d layer dirs, want 3", len(entries))
	}
	// Topmost first.
	if _, err := os.Stat(filepath.Join(ib.LowerDirs[0], "b")); err != nil {
		t.Errorf("LowerDirs[0] is not the top layer: %v", err)
	}
	if ib.Config.Cmd[0] != "b" || ib.Config.Env[0] != "PATH=/bin" {
		t.Errorf("config = %+v", ib.Config)
	}
}

func TestConcurrentEnsureIsOnePull(t *testing.T) {
	reg := newRegistry(t, nil)
	img, _ := random.Image(64<<10, 3)
	ref := reg.push(t, "busy:v1", img)
	s := newTestStore(t)
	before := reg.manifests.Load()
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.Ensure(context.Background(), ref, corev1.PullIfNotPresent, nil)
			errs[i] = err
			if err == nil {
				ids[i] = got.ID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := reg.manifests.Load() - before; n != 1 {
		t.Errorf("%d manifest GETs for 8 concurrent Ensures, want 1", n)
	}
}

func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestPullSecretAuth(t *testing.T) {
	reg := newRegistry(t, basicAuth("alice", "s3cret"))
	img, _ := random.Image(256, 1)
	ref := reg.push(t, "private:v1", img, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	tests := []struct {
		name    string
		secrets []corev1.Secret
		wantErr bool
	}{
		{"anonymous", nil, true},
		{"wrong password", []corev1.Secret{dockerConfigJSON(reg.host, `"username":"alice","password":"nope"`)}, true},
		{"other registry", []corev1.Secret{dockerConfigJSON("example.com", `"auth":"`+auth+`"`)}, true},
		{"dockerconfigjson auth", []corev1.Secret{dockerConfigJSON(reg.host, `"auth":"`+auth+`"`)}, false},
		{"dockerconfigjson user/pass with scheme", []corev1.Secret{dockerConfigJSON("http://"+reg.host+"/", `"username":"alice","password":"s3cret"`)}, false},
		{"dockercfg", []corev1.Secret{{
			Type: corev1.SecretTypeDockercfg,
			Data: map[string][]byte{corev1.DockerConfigKey: fmt.Appendf(nil, `{%q:{"auth":%q}}`, reg.host, auth)},
		}}, false},
		{"broken secret skipped", []corev1.Secret{
			{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte("{")}},
			dockerConfigJSON(reg.host, `"auth":"`+auth+`"`),
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			_, err := s.Ensure(context.Background(), ref, corev1.PullIfNotPresent, tc.secrets)
			if tc.wantErr {
				if !errors.Is(err, ErrImagePull) {
					t.Fatalf("err = %v, want ErrImagePull", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func dockerConfigJSON(host, fields string) corev1.Secret {
	return corev1.Secret{
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{%s}}}`, host, fields)},
	}
}

func TestRegistryKey(t *testing.T) {
	tests := []struct{ key, host, path string }{
		{"https://index.docker.io/v1/", "index.docker.io", ""},
		{"docker.io", "index.docker.io", ""},
		{"127.0.0.1:5000", "127.0.0.1:5000", ""},
		{"http://Registry.Example.com/team/", "registry.example.com", "team"},
	}
	for _, tc := range tests {
		if h, p := registryKey(tc.key); h != tc.host || p != tc.path {
			t.Errorf("registryKey(%q) = %q %q, want %q %q", tc.key, h, p, tc.host, tc.path)
		}
	}
}
