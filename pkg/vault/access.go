package vault

// accessActions are the audit actions of service tokens and access requests
// (docs/vault.md).
var accessActions = []string{}
