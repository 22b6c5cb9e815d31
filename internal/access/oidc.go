package access

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig is a relying party's registration with an OpenID Provider.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RoleClaim names the claim (in the ID token or the userinfo) that
	// carries the user's auditd role: a role name or a list of names, the
	// highest of which counts.
	RoleClaim string
	// RedirectURL is auditd's callback, as registered with the provider.
	RedirectURL string
}

// OIDC signs users in through an OpenID Provider (authorization code flow
// with PKCE and a nonce).
type OIDC struct {
	cfg      OIDCConfig
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
}

// ErrNoRole is a provider's user whose role claim names no auditd role.
var ErrNoRole = errors.New("access: the identity provider gave no auditd role for this user")

// NewOIDC discovers the provider's endpoints and keys.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if cfg.ClientID == "" || cfg.RoleClaim == "" || cfg.RedirectURL == "" {
		return nil, errors.New("access: OIDC needs a client id, a role claim and a redirect URL")
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("access: unable to discover the OpenID Provider %s: %w", cfg.Issuer, err)
	}
	return &OIDC{
		cfg: cfg, provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
		},
	}, nil
}

// NewOIDCState returns the random state, nonce and PKCE verifier of one
// sign-in; the browser keeps them in a cookie until the callback.
func NewOIDCState() (state, nonce, verifier string) {
	return RandomPassword(), RandomPassword(), oauth2.GenerateVerifier()
}

// AuthCodeURL is where the browser goes to sign in at the provider.
func (o *OIDC) AuthCodeURL(state, nonce, verifier string) string {
	return o.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
}

// ExternalIdentity is who the provider says the user is.
type ExternalIdentity struct {
	Subject string // "<issuer> <sub>"
	Name    string // preferred_username, else email, else sub
	Role    Role
}

// Exchange trades the callback's code for tokens, verifies the ID token
// (signature, issuer, audience, expiry, nonce) and reads the user's name
// and role from it and from the userinfo endpoint.
func (o *OIDC) Exchange(ctx context.Context, code, verifier, nonce string) (ExternalIdentity, error) {
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return ExternalIdentity{}, fmt.Errorf("access: the identity provider refused the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return ExternalIdentity{}, errors.New("access: the identity provider sent no ID token")
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return ExternalIdentity{}, fmt.Errorf("access: invalid ID token: %w", err)
	}
	if idt.Nonce != nonce {
		return ExternalIdentity{}, errors.New("access: the ID token's nonce is not this sign-in's")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return ExternalIdentity{}, fmt.Errorf("access: unreadable ID token claims: %w", err)
	}
	// The userinfo endpoint may carry claims the ID token leaves out; the
	// ID token's win (they are signed).
	if ui, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
		extra := map[string]any{}
		if err := ui.Claims(&extra); err == nil && extra["sub"] == idt.Subject {
			for k, v := range extra {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
		}
	}
	id := ExternalIdentity{Subject: idt.Issuer + " " + idt.Subject, Name: idt.Subject}
	for _, k := range []string{"preferred_username", "email"} {
		if v, ok := claims[k].(string); ok && v != "" {
			id.Name = v
			break
		}
	}
	id.Role = highestRole(claims[o.cfg.RoleClaim])
	if !id.Role.Valid() {
		return id, fmt.Errorf("%w (claim %q)", ErrNoRole, o.cfg.RoleClaim)
	}
	return id, nil
}

// highestRole reads a role claim: a name, or a list of names (groups), of
// which the highest auditd role counts; other values are ignored.
func highestRole(v any) Role {
	var names []string
	switch v := v.(type) {
	case string:
		names = strings.Fields(strings.ReplaceAll(v, ",", " "))
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				names = append(names, s)
			}
		}
	}
	var best Role
	for _, n := range names {
		if r, err := ParseRole(n); err == nil && r > best {
			best = r
		}
	}
	return best
}

// SignInExternal records the provider's user (created on first sign-in,
// role refreshed after) and returns it. A disabled one is refused; a
// provider's user cannot take the name of a local one.
func (s *Service) SignInExternal(ctx context.Context, id ExternalIdentity) (User, error) {
	if !nameRE.MatchString(id.Name) {
		return User{}, fmt.Errorf("access: the identity provider's user name %q is not a valid auditd user name", capName(id.Name))
	}
	u := User{Role: id.Role}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO auditd.users (name, role, oidc_subject) VALUES ($1, $2, $3)
		ON CONFLICT (oidc_subject) DO UPDATE SET role = EXCLUDED.role, name = EXCLUDED.name
		RETURNING id, name, disabled_at IS NOT NULL, created_at`,
		id.Name, id.Role.String(), id.Subject).Scan(&u.ID, &u.Name, &u.Disabled, &u.CreatedAt)
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("access: a local user is named %q: the identity provider's user cannot take that name", id.Name)
	}
	if err != nil {
		return User{}, fmt.Errorf("access: unable to record the identity provider's user: %w", err)
	}
	if u.Disabled {
		return User{}, ErrInvalidCredentials
	}
	return u, nil
}

func capName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
