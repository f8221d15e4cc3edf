package images

import (
	"archive/tar"
	"context"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestImageUser(t *testing.T) {
	requireRoot(t) // whiteout layers
	base := layerOf(t,
		entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
		entry{name: "etc/group", body: "root:x:0:\napp:x:1000:\nstaff:x:50:app\n"},
	)
	override := layerOf(t, entry{name: "etc/passwd", body: "app:x:2000:2000::/:/bin/sh\n"})
	deleted := layerOf(t, entry{name: "etc/.wh.passwd"})
	opaque := layerOf(t, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/.wh..wh..opq"})
	tests := []struct {
		name     string
		layers   []v1.Layer
		spec     string
		uid, gid uint32
		groups   []uint32
		wantErr  bool
	}{
		{"empty is root", []v1.Layer{base}, "", 0, 0, nil, false},
		{"by name", []v1.Layer{base}, "app", 1000, 1000, []uint32{50}, false},
		{"numeric", []v1.Layer{base}, "1234:5678", 1234, 5678, nil, false},
		{"name and group", []v1.Layer{base}, "app:staff", 1000, 50, nil, false},
		{"upper layer wins", []v1.Layer{base, override}, "app", 2000, 2000, []uint32{50}, false},
		{"whiteout hides passwd", []v1.Layer{base, deleted}, "app", 0, 0, nil, true},
		{"numeric without passwd", []v1.Layer{base, deleted}, "1000", 1000, 0, nil, false},
		{"opaque etc hides passwd", []v1.Layer{base, opaque}, "app", 0, 0, nil, true},
		{"unknown", []v1.Layer{base}, "nobody", 0, 0, nil, true},
	}
	s := newTestStore(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := s.Put(context.Background(), "localhost/user:test", imageOf(t, "x", tc.layers...))
			if err != nil {
				t.Fatal(err)
			}
			uid, gid, groups, err := img.User(tc.spec)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("User(%q) = %d:%d, want an error", tc.spec, uid, gid)
				}
				return
			}
			if err != nil || uid != tc.uid || gid != tc.gid || !slices.Equal(groups, tc.groups) {
				t.Errorf("User(%q) = %d:%d %v, %v; want %d:%d %v", tc.spec, uid, gid, groups, err, tc.uid, tc.gid, tc.groups)
			}
		})
	}
}
