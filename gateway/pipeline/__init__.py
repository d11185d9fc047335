"""The call pipeline: one ``Call`` passes through small stages, in one direction.

authorise → arguments → admission → protection + invoke → answer → outcome

See ``run.CallPipeline`` for the order and ARCHITECTURE.md for a drawing.
"""
