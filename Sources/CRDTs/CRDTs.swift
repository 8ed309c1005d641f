// The CRDTs module.
