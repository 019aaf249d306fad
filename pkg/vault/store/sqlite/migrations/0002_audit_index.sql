-- 0002: "vault audit --since T --action A" reads by time and action.
CREATE INDEX audit_ts ON audit (ts);
CREATE INDEX audit_action_ts ON audit (action, ts);
