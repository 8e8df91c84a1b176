"""crboost's TOOL SIMULATOR: stand-ins for WarpTools, AreTomo2, AreTomo3, the IMOD programs,
cryoCARE, pytom-match-pick and RELION 5's subtomogram programs.

For the demo and the tests only, and only used when a project's config says `tools.simulate:
true`. Each stand-in accepts exactly the real program's options (from the real sources: an
unknown option or a missing required one is an error), checks that its inputs exist, and writes
outputs of the real shape at the real paths (MRC via mrcfile, Warp XML, .tomostar, .aln, .xf).
The preprocessing numbers are made up; the downstream programs compute on the data they are
given (cross-correlation, box extraction, back-projection; see pytom.py and relion.py).

Run as  python -m crboost.simulator PROGRAM [ARGS...]   (PROGRAM: WarpTools, AreTomo2,
AreTomo3, batchruntomo, submfg, cryoCARE_*.py, pytom_match_template.py,
pytom_extract_candidates.py, relion_tomo_subtomo, relion_tomo_reconstruct_particle).

Fault injection, for tests:
  CRBOOST_SIM_FAIL="<job type>:<tilt series>[,...]"  that job type's tool calls for that tilt
      series fail (job type and tilt series come from CRBOOST_SIM_JOB / CRBOOST_SIM_ITEM, which
      crboost's tool runner sets); "<job type>:*" fails every call of the job type;
  CRBOOST_SIM_DELAY=<seconds>  added run time per tilt series and job (one tool call of the
      job's main step; "<job type>:<seconds>[,...]" for some job types only).
  CRBOOST_SIM_LEDGER=<file>  every simulated program call appends a JSON line when it starts and
      when it ends (program, verb, job type, item, cwd, pid, time, exit status): a record of the
      work done, for tests that check no finished work is done twice (crash recovery).
"""
