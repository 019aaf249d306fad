package vault

// deviceActions are the audit actions of the device records (docs/vault.md).
var deviceActions = []string{}
