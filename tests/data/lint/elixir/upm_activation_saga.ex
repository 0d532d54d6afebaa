defmodule Thunderline.Thunderbolt.Sagas.UPMActivationSaga do
  @moduledoc "Promote a UPM snapshot: check policy, sync adapters, activate."
  use Reactor, extensions: [Reactor.Dsl]
  require Logger

  alias Thunderline.EventBus

  input :snapshot_id
  input :correlation_id

  step :policy_check do
    argument :drift_score, result(:measure_drift)

    run fn %{drift_score: drift_score}, _ ->
      # TODO: Wire to ThunderCrown policy evaluation
      # For now, stub with auto-approval
      policy_decision = %{
        approved: true,
        reason: "Auto-approved (drift: #{drift_score})",
        policy_id: Thunderline.UUID.v7()
      }

      {:ok, policy_decision}
    end
  end

  step :sync_adapters do
    argument :snapshot_id, input(:snapshot_id)

    run fn %{snapshot_id: snapshot_id}, _ ->
      Thunderline.Thunderblock.Adapters.point_all_to(snapshot_id)
    end

    compensate fn _adapters, _ ->
      # TODO: Restore previous adapter configurations
      Logger.warning("Compensating: adapter sync rollback")
      {:ok, :compensated}
    end
  end

  step :activate do
    argument :snapshot_id, input(:snapshot_id)

    run fn %{snapshot_id: snapshot_id}, _context ->
      correlation_id = UUID.uuid4()

      EventBus.publish_event(%{
        name: "ai.upm.snapshot.activated",
        payload: %{snapshot_id: snapshot_id},
        correlation_id: correlation_id,
        causation_id: nil
      })
    end
  end
end
