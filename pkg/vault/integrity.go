package vault

// State against the chain: docs/vault.md, "State against the chain". The
// rows a read decides on (the newest version of a secret or device
// secret, a token's or device key's status, a grant) can be put back to an
// older, validly sealed or MACed state by someone who can write the store.
// The audit chain records every change, keyed: a decision compares the row
// with the newest keyed audit row about it and fails closed
// (ErrTampered) when the row is older than what the chain recorded.

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/pkg/vault/chain"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

var errStop = errors.New("stop")

// lastAudit returns the newest successful keyed audit row with one of
// actions about object (in tenant, when tenant is not "") for which match
// (if not nil) holds, after checking its MAC against the row before it; nil
// when there is none. A row whose MAC does not verify fails with
// ErrTampered.
func (o *op) lastAudit(tenant, object string, actions []string, match func(*store.AuditRow) bool) (*store.AuditRow, error) {
	return o.lastAuditOf(store.AuditFilter{Object: object, Tenant: tenant, Actions: actions}, match)
}

// lastAuditOf is lastAudit of the rows f selects.
func (o *op) lastAuditOf(f store.AuditFilter, match func(*store.AuditRow) bool) (*store.AuditRow, error) {
	qualifies := func(r *store.AuditRow) bool { return r.MAC != nil && r.Success && (match == nil || match(r)) }
	var best *store.AuditRow
	if o.index != nil && o.index.covers(f) {
		// VerifyAll: the walk over the whole chain in this snapshot kept
		// every row with these actions, and verified each.
		best = o.index.last(f, qualifies)
		if best == nil {
			return nil, o.checkChainStart()
		}
		return best, nil
	}
	// One scan over every action, newest first: the first row that
	// qualifies is the newest (one query, not one per action).
	f.Desc = true
	err := o.tx.AuditScan(o.ctx, f, func(r store.AuditRow) error {
		if !qualifies(&r) {
			return nil
		}
		best = &r
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	if best == nil {
		// Nothing about object: fine only in a chain that is whole at its
		// start. A wiped (or cut) audit table records no revocation, so
		// without this a put-back row would decide alone.
		return nil, o.checkChainStart()
	}
	if err := o.checkAuditRow(best); err != nil {
		return nil, err
	}
	return best, nil
}

// auditQuery is one lastAuditOf question (f: Tenant, Object, Actions,
// OrActions; match as lastAuditOf's) asked together with others in one
// scan by lastAudits.
type auditQuery struct {
	f     store.AuditFilter
	match func(*store.AuditRow) bool

	found  *store.AuditRow // the scan's newest qualifying row, before its check
	done   bool            // answered (found, or the scan ended)
	judged bool            // row and err below are final
	row    *store.AuditRow
	err    error
}

// lastAudits answers several lastAuditOf questions about the objects of
// one tenant with one scan (AuditFilter.Objects), newest first, stopping
// as soon as every question has its row: each question's row is the one
// its own scan would have found, since the one scan selects a superset of
// each question's rows in the same order and each row is matched here
// against each question's own filter. Nothing is checked yet: answer
// checks the row (or, when there is none, the chain's start) as
// lastAuditOf does, when the caller asks, so that the checks fail in the
// order the one-name decisions would.
func (o *op) lastAudits(qs []*auditQuery) error {
	if len(qs) == 0 {
		return nil
	}
	tenant := qs[0].f.Tenant
	var scan []*auditQuery
	for _, q := range qs {
		if !scannable(tenant, q) || (o.index != nil && o.index.covers(q.f)) {
			// Not of the one scan's shape: answered on its own.
			q.row, q.err = o.lastAuditOf(q.f, q.match)
			q.done, q.judged = true, true
			continue
		}
		scan = append(scan, q)
	}
	all, ok := scanFilter(scan)
	if !ok {
		// The store must not be asked for a row twice: one scan each.
		for _, q := range scan {
			q.row, q.err = o.lastAuditOf(q.f, q.match)
			q.done, q.judged = true, true
		}
		return nil
	}
	if len(scan) == 0 {
		return nil
	}
	byObject := map[string][]*auditQuery{}
	var anywhere []*auditQuery // questions with OrActions
	for _, q := range scan {
		byObject[q.f.Object] = append(byObject[q.f.Object], q)
		if len(q.f.OrActions) > 0 {
			anywhere = append(anywhere, q)
		}
	}
	left := 0
	for _, q := range qs {
		if !q.done {
			left++
		}
	}
	try := func(q *auditQuery, r *store.AuditRow) {
		if q.done || (q.match != nil && !q.match(r)) {
			return
		}
		q.found, q.done = new(store.AuditRow), true
		*q.found = *r
		left--
	}
	err := o.tx.AuditScan(o.ctx, all, func(r store.AuditRow) error {
		if r.MAC == nil || !r.Success {
			return nil
		}
		if r.Tenant == tenant {
			for _, q := range byObject[r.Object] {
				if slices.Contains(q.f.Actions, r.Action) {
					try(q, &r)
				}
			}
		}
		for _, q := range anywhere {
			if slices.Contains(q.f.OrActions, r.Action) {
				try(q, &r)
			}
		}
		if left == 0 {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	for _, q := range qs {
		q.done = true
	}
	return nil
}

// scannable: q can be answered by lastAudits' one scan of the questions
// about tenant's objects.
func scannable(tenant string, q *auditQuery) bool {
	return q.f.Tenant == tenant && tenant != "" && q.f.Object != "" && len(q.f.Actions) > 0 &&
		q.f.FromSeq == 0 && q.f.ToSeq == 0 && q.f.Since == "" && q.f.Limit == 0 && len(q.f.Objects) == 0
}

// scanFilter is the one scan lastAudits makes for qs (each scannable):
// every row about their objects with their actions, and every row with
// their OrActions, newest first. Not ok when an action is in both (a row
// would come twice): lastAudits then asks each question on its own.
func scanFilter(qs []*auditQuery) (store.AuditFilter, bool) {
	if len(qs) == 0 {
		return store.AuditFilter{}, true
	}
	all := store.AuditFilter{Tenant: qs[0].f.Tenant, Desc: true}
	for _, q := range qs {
		if !slices.Contains(all.Objects, q.f.Object) {
			all.Objects = append(all.Objects, q.f.Object)
		}
		for _, a := range q.f.Actions {
			if !slices.Contains(all.Actions, a) {
				all.Actions = append(all.Actions, a)
			}
		}
		for _, a := range q.f.OrActions {
			if !slices.Contains(all.OrActions, a) {
				all.OrActions = append(all.OrActions, a)
			}
		}
	}
	for _, a := range all.OrActions {
		if slices.Contains(all.Actions, a) {
			return store.AuditFilter{}, false
		}
	}
	if len(all.Objects) == 1 {
		all.Object, all.Objects = all.Objects[0], nil
	}
	return all, true
}

// answer is q's row as lastAuditOf returns it: checked against the chain,
// or, when the chain has none, the chain's start checked.
func (o *op) answer(q *auditQuery) (*store.AuditRow, error) {
	if !q.done {
		return o.lastAuditOf(q.f, q.match)
	}
	if !q.judged {
		q.judged = true
		if q.found == nil {
			q.err = o.checkChainStart()
		} else if q.err = o.checkAuditRow(q.found); q.err == nil {
			q.row = q.found
		}
	}
	return q.row, q.err
}

// checkChainStart fails (ErrTampered) unless the chain's first row is the
// vault's keyed init row, its MAC over the vault's genesis verifying: a
// chain that starts anywhere else was wiped or cut, and its silence about
// a token, grant, key or secret decides nothing. Read once per
// transaction attempt.
func (o *op) checkChainStart() error {
	if o.chainStartRead {
		return o.chainStartErr
	}
	var first *store.AuditRow
	err := o.tx.AuditScan(o.ctx, store.AuditFilter{FromSeq: 1, ToSeq: 1, Limit: 1}, func(r store.AuditRow) error {
		first = &r
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	switch {
	case first == nil:
		err = fmt.Errorf("%w: the audit chain has no init row (audit rows were deleted): it cannot show what was revoked or removed", ErrTampered)
	case first.Action != "init" || first.MAC == nil:
		err = fmt.Errorf("%w: the audit chain starts with a %s row, not the vault's keyed init row (audit rows were deleted): it cannot show what was revoked or removed", ErrTampered, first.Action)
	default:
		err = o.checkAuditRow(first)
	}
	o.chainStartRead, o.chainStartErr = true, err
	return err
}

// checkAuditRow verifies one keyed row's MAC over the chain value before
// it: the previous keyed row's MAC, hashed forward over the unkeyed rows
// between.
func (o *op) checkAuditRow(r *store.AuditRow) error {
	if o.chainVerified {
		return nil // r is a row of the chain VerifyAll walked whole in this snapshot
	}
	digest := rowDigest(r)
	if o.v.verified.has(r.Seq, digest) {
		return nil
	}
	var back []store.AuditRow
	if r.Seq > 1 {
		err := o.tx.AuditScan(o.ctx, store.AuditFilter{ToSeq: r.Seq - 1, Desc: true}, func(p store.AuditRow) error {
			back = append(back, p)
			if p.MAC != nil {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
	}
	for i, j := 0, len(back)-1; i < j; i, j = i+1, j-1 {
		back[i], back[j] = back[j], back[i]
	}
	seq, head := chain.Head(o.v.vaultID, back)
	if seq != r.Seq-1 || !hmac.Equal(r.MAC, chain.KeyedLink(o.keys.AuditKey(), head, r)) {
		return fmt.Errorf("%w: audit row %d about %q does not verify: the audit chain was changed", ErrTampered, r.Seq, r.Object)
	}
	o.v.verified.add(r.Seq, digest)
	return nil
}

// verifiedRows remembers the keyed audit rows checkAuditRow verified, by a
// digest of the whole row and its MAC, so that a server reading the same
// secret again does not fetch the row before its newest put every time.
// What it remembers stays true: a row whose MAC verified against the
// chain was written by a holder of the audit key, and any change to its
// bytes or MAC changes the digest (the row is then verified again). What
// it does not say, whether the rows around it are still there, is
// vault verify's job, as it is without the cache.
type verifiedRows struct {
	mu sync.Mutex
	m  map[int64][sha256.Size]byte
}

// maxVerifiedRows bounds the cache; when full it starts again.
const maxVerifiedRows = 4096

func rowDigest(r *store.AuditRow) [sha256.Size]byte {
	h := sha256.New()
	h.Write(chain.RowBytes(nil, r))
	h.Write(r.MAC)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

func (c *verifiedRows) has(seq int64, d [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, ok := c.m[seq]
	return ok && got == d
}

func (c *verifiedRows) add(seq int64, d [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxVerifiedRows {
		c.m = make(map[int64][sha256.Size]byte)
	}
	c.m[seq] = d
}

// versionIn reads N from a detail that starts with "version N" or
// contains "secret NAME version N".
func versionIn(detail, prefix string) int {
	i := strings.Index(detail, prefix)
	if i < 0 {
		return 0
	}
	rest := detail[i+len(prefix):]
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		rest = rest[:end]
	}
	n, _ := strconv.Atoi(rest)
	return n
}

// checkLatest compares the newest stored version of a secret (s; Version 0
// when there is none) with the chain's newest put, rm or purge of the
// name: a put of version N needs a live version N or later; an rm needs
// the rows to be there and removed; after a purge no row may be.
func (o *op) checkLatest(t store.Tenant, name string, s store.Secret) error {
	r, err := o.lastAuditOf(latestQuery(t, name).f, nil)
	if err != nil {
		return err
	}
	return latestAgrees(t, name, s, r)
}

// latestQuery is checkLatest's question to the chain. The same scan finds
// the chain's newest restore: when it is newer than any put, rm or purge
// of the name, the secrets were re-created from a backup with no row per
// name, and the chain has nothing newer to compare with.
func latestQuery(t store.Tenant, name string) *auditQuery {
	return &auditQuery{f: store.AuditFilter{Tenant: t.Name, Object: name, Actions: []string{"put", "rm", "purge"}, OrActions: []string{"restore"}}}
}

// latestAgrees is checkLatest's judgement of s against r, the chain's
// newest put, rm, purge or restore (nil: none).
func latestAgrees(t store.Tenant, name string, s store.Secret, r *store.AuditRow) error {
	if r == nil || r.Action == "restore" {
		return nil
	}
	bad := ""
	switch r.Action {
	case "put":
		want := versionIn(r.Detail, "version ")
		switch {
		case s.Version < want:
			bad = fmt.Sprintf("the audit chain records version %d (audit row %d), the newest stored version is %d", want, r.Seq, s.Version)
		case s.DeletedAt != "":
			bad = fmt.Sprintf("it is marked removed, but the audit chain records a put of version %d after any rm (audit row %d)", want, r.Seq)
		}
	case "rm":
		switch {
		case s.Version == 0:
			bad = fmt.Sprintf("its versions are gone, but the audit chain records an rm, not a purge (audit row %d)", r.Seq)
		case s.DeletedAt == "":
			bad = fmt.Sprintf("it is live, but the audit chain records its removal (audit row %d) and no put since", r.Seq)
		}
	case "purge":
		if s.Version != 0 {
			bad = fmt.Sprintf("version %d is stored, but the audit chain records a purge (audit row %d) and no put since", s.Version, r.Seq)
		}
	}
	if bad != "" {
		return fmt.Errorf("%w: secret %q in tenant %s was rolled back: %s", ErrTampered, name, t.Name, bad)
	}
	return nil
}

// checkLatestDeviceSecret compares the newest stored version of a device
// secret (0: none) with the chain's newest device-secret-set of it.
func (o *op) checkLatestDeviceSecret(t store.Tenant, d store.Device, name string, have int) error {
	prefix := fmt.Sprintf("device %s, secret %s version ", d.ID, name)
	r, err := o.lastAudit(t.Name, d.Name, []string{"device-secret-set"}, func(r *store.AuditRow) bool {
		return strings.HasPrefix(r.Detail, prefix)
	})
	if err != nil || r == nil {
		return err
	}
	if want := versionIn(r.Detail, prefix); have < want {
		return fmt.Errorf("%w: secret %s of device %s was rolled back: the audit chain records version %d (audit row %d), the newest stored version is %d",
			ErrTampered, name, d.Name, want, r.Seq, have)
	}
	return nil
}

// checkKeyNotRevoked fails when the audit chain records the revocation of
// an active device key (a revoked row replaced by an older active one): a
// device-revoke naming it, a device-role that revoked it, or a device-rm
// of its device (the device and key rows put back after the removal), with
// no enrolment or provisioning of it since (key and device IDs are never
// reused).
func (o *op) checkKeyNotRevoked(t store.Tenant, d store.Device, k store.DeviceKey) error {
	rmPrefix := "device " + d.ID + ","
	r, err := o.lastAudit(t.Name, d.Name, []string{"device-revoke", "device-role", "device-rm"}, func(r *store.AuditRow) bool {
		switch r.Action {
		case "device-revoke":
			return strings.Contains(r.Detail, ", key "+k.KeyID+",")
		case "device-rm":
			return strings.HasPrefix(r.Detail, rmPrefix)
		}
		_, keys, _ := strings.Cut(r.Detail, "revoked keys: ")
		return slices.Contains(strings.Fields(keys), k.KeyID)
	})
	if err != nil || r == nil {
		return err
	}
	if r.Action == "device-rm" {
		return fmt.Errorf("%w: key %s of device %s is active, but the audit chain records the removal of device %s (%s, audit row %d): the device and key rows were put back",
			ErrKeyRevoked, k.KeyID, d.Name, d.Name, d.ID, r.Seq)
	}
	return fmt.Errorf("%w: key %s of device %s is active, but the audit chain records its revocation (audit row %d): the key row was put back",
		ErrKeyRevoked, k.KeyID, d.Name, r.Seq)
}

// checkTokenState fails when the token row says approved (or pending)
// while the chain's last decision about the token denied or revoked it:
// an older, validly MACed row was put back.
func (o *op) checkTokenState(t store.Token) error {
	if t.Status != TokenApproved && t.Status != TokenPending {
		return nil
	}
	f := tokenStateFilter(t.ID)
	r, err := o.lastAuditOf(f, nil)
	if err != nil || r == nil {
		return err
	}
	if r.Action == "token-revoke" || (r.Action == "token-deny" && t.Status == TokenApproved) {
		return fmt.Errorf("%w: service token %s is %s, but the audit chain records %s (audit row %d): the token row was put back",
			ErrTampered, t.ID, t.Status, r.Action, r.Seq)
	}
	return nil
}

// tokenStateFilter selects the chain's decisions about token id.
func tokenStateFilter(id string) store.AuditFilter {
	return store.AuditFilter{Object: id, Actions: []string{"token-approve", "token-deny", "token-revoke"}, Desc: true}
}

// checkGrantState fails when an active grant row contradicts the chain's
// last decision about (service, name): a revoke or deny since the last
// grant or approval.
func (o *op) checkGrantState(t store.Tenant, g store.Grant) error {
	if g.Status != GrantActive {
		return nil
	}
	q := grantQuery(t, g.Service, g.Name)
	r, err := o.lastAuditOf(q.f, q.match)
	if err != nil {
		return err
	}
	return grantAgrees(g, r)
}

// grantQuery is checkGrantState's question to the chain: the newest
// decision about (service, name).
func grantQuery(t store.Tenant, service, name string) *auditQuery {
	prefix := "service " + service + ":"
	return &auditQuery{f: store.AuditFilter{Tenant: t.Name, Object: name, Actions: []string{"access-grant", "access-approve", "access-deny", "access-revoke"}},
		match: func(r *store.AuditRow) bool { return strings.HasPrefix(r.Detail, prefix) }}
}

// grantAgrees is checkGrantState's judgement of an active grant against
// r, the chain's newest decision about it (nil: none).
func grantAgrees(g store.Grant, r *store.AuditRow) error {
	if r == nil || g.Status != GrantActive {
		return nil
	}
	if r.Action == "access-deny" || r.Action == "access-revoke" {
		return fmt.Errorf("%w: the grant of %q to service %s is active, but the audit chain records %s (audit row %d): the grant row was put back",
			ErrTampered, g.Name, g.Service, r.Action, r.Seq)
	}
	return nil
}

// auditIndex keeps the rows of the actions the state checks decide on,
// from one walk over the whole chain (VerifyAll), so that checking 100,000
// names against the chain is not 100,000 queries.
type auditIndex struct {
	rows     []store.AuditRow
	byObject map[string][]int32 // indexes into rows, oldest first
	byAction map[string][]int32
}

// stateActions are the actions whose rows the state checks look for
// (integrity.go's lastAudit calls). A filter naming any other action is
// not answered from the index.
var stateActions = map[string]bool{
	"put": true, "rm": true, "purge": true, "restore": true,
	"device-secret-set": true, "device-revoke": true, "device-role": true, "device-rm": true,
	"token-approve": true, "token-deny": true, "token-revoke": true,
	"access-grant": true, "access-approve": true, "access-deny": true, "access-revoke": true,
}

func newAuditIndex() *auditIndex {
	return &auditIndex{byObject: map[string][]int32{}, byAction: map[string][]int32{}}
}

// add keeps r if the state checks may ask for it. Rows come oldest first.
func (x *auditIndex) add(r store.AuditRow) {
	if !stateActions[r.Action] || r.MAC == nil || !r.Success {
		return
	}
	i := int32(len(x.rows))
	x.rows = append(x.rows, r)
	x.byObject[r.Object] = append(x.byObject[r.Object], i)
	x.byAction[r.Action] = append(x.byAction[r.Action], i)
}

// covers reports whether the index holds every row f can select.
func (x *auditIndex) covers(f store.AuditFilter) bool {
	if f.FromSeq != 0 || f.ToSeq != 0 || f.Since != "" || f.Limit != 0 || len(f.Actions) == 0 {
		return false
	}
	for _, a := range slices.Concat(f.Actions, f.OrActions) {
		if !stateActions[a] {
			return false
		}
	}
	return true
}

// last is the newest row f selects for which ok holds, nil if none.
func (x *auditIndex) last(f store.AuditFilter, ok func(*store.AuditRow) bool) *store.AuditRow {
	var best *store.AuditRow
	newest := func(idxs []int32, sel func(*store.AuditRow) bool) {
		for _, i := range slices.Backward(idxs) {
			r := &x.rows[i]
			if best != nil && r.Seq <= best.Seq {
				return
			}
			if sel(r) && ok(r) {
				best = r
				return
			}
		}
	}
	sel := func(r *store.AuditRow) bool {
		return slices.Contains(f.Actions, r.Action) && (f.Tenant == "" || r.Tenant == f.Tenant) && (f.Object == "" || r.Object == f.Object)
	}
	if f.Object != "" {
		newest(x.byObject[f.Object], sel)
	} else {
		for _, a := range f.Actions {
			newest(x.byAction[a], sel)
		}
	}
	for _, a := range f.OrActions {
		newest(x.byAction[a], func(*store.AuditRow) bool { return true })
	}
	if best == nil {
		return nil
	}
	r := *best
	return &r
}
