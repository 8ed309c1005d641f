@_exported import CRDTs
