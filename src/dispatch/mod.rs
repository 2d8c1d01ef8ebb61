//! Dispatch: technicians, repair jobs, warranty, SLA clocks and assignment.
