package authz

import (
	"context"
	"errors"
	"testing"
)

func TestUnion(t *testing.T) {
	t.Parallel()
	boom := errors.New("webhook unreachable")
	fixed := func(d Decision, reason string, err error) Authorizer {
		return AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) { return d, reason, err })
	}
	noOpinion := fixed(DecisionNoOpinion, "", nil)
	tests := []struct {
		name       string
		authz      []Authorizer
		want       Decision
		wantReason string
		wantErr    error
	}{
		{name: "empty", want: DecisionNoOpinion},
		{name: "allow", authz: []Authorizer{AlwaysAllow}, want: DecisionAllow},
		{name: "deny", authz: []Authorizer{AlwaysDeny, AlwaysAllow}, want: DecisionDeny},
		{name: "no opinion passes on", authz: []Authorizer{noOpinion, fixed(DecisionAllow, "rbac: role admin", nil)}, want: DecisionAllow, wantReason: "rbac: role admin"},
		{name: "all pass", authz: []Authorizer{fixed(DecisionNoOpinion, "not a node", nil), fixed(DecisionNoOpinion, "no binding", nil)}, want: DecisionNoOpinion, wantReason: "not a node; no binding"},
		{name: "error then allow", authz: []Authorizer{fixed(DecisionNoOpinion, "", boom), AlwaysAllow}, want: DecisionAllow},
		{name: "error then nothing", authz: []Authorizer{fixed(DecisionNoOpinion, "", boom), noOpinion}, want: DecisionNoOpinion, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, reason, err := Union(tt.authz...).Authorize(context.Background(), Attributes{Verb: "get"})
			if d != tt.want || reason != tt.wantReason {
				t.Errorf("got %v %q, want %v %q", d, reason, tt.want, tt.wantReason)
			}
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	t.Parallel()
	for d, want := range map[Decision]string{DecisionDeny: "Deny", DecisionAllow: "Allow", DecisionNoOpinion: "NoOpinion"} {
		if d.String() != want {
			t.Errorf("%d.String() = %q, want %q", d, d.String(), want)
		}
	}
	var zero Decision
	if zero != DecisionDeny {
		t.Error("the zero Decision must be Deny (fail closed)")
	}
}
