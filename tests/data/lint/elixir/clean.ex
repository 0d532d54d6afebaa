defmodule Thunderline.Thunderbolt.Sagas.CleanSaga do
  @moduledoc "The same sagas done right: nothing here may be reported."
  use Reactor, extensions: [Reactor.Dsl]
  require Logger

  alias Thunderline.EventBus
  alias Thunderline.Thunderbolt.CerebrosBridge.Invoker

  input :spec
  input :run

  step :dispatch_training do
    argument :run, input(:run)

    run fn %{run: run}, _ ->
      Invoker.dispatch(run.id, run.spec)
    end

    compensate fn jobs, _ ->
      Logger.warning("Compensating: canceling #{length(jobs)} training jobs")
      Enum.each(jobs, &Invoker.cancel(&1.job_id))
      :ok
    end

    undo fn
      [], _ ->
        :ok

      jobs, _ ->
        Logger.info("undoing training")
        Enum.each(jobs, &Invoker.cancel(&1.job_id))
        :ok
    end
  end

  step :publish_completion do
    argument :run_id, input(:run, [:id])
    argument :correlation_id, input(:spec, [:correlation_id])
    argument :causation_id, input(:spec, [:causation_id])

    run fn %{run_id: run_id, correlation_id: correlation_id, causation_id: causation_id}, _ ->
      EventBus.publish_event(%{
        name: "ml.run.completed",
        payload: %{run_id: run_id},
        correlation_id: correlation_id || UUID.uuid4(),
        causation_id: causation_id
      })
    end
  end

  def with_retry(fun, attempt \\ 1) do
    case fun.() do
      {:ok, value} ->
        {:ok, value}

      {:error, _reason} when attempt < 5 ->
        Process.sleep(min(50 * Integer.pow(2, attempt), 2_000))
        with_retry(fun, attempt + 1)

      {:error, reason} ->
        {:error, reason}
    end
  end

  defp heartbeat(state) do
    Logger.debug("heartbeat #{state.node}")
    :ok = Thunderline.Cluster.beat(state.node)
    Process.sleep(state.interval_ms)
    heartbeat(state)
  end

  def handle_info(:tick, state) do
    Process.send_after(self(), :tick, state.interval_ms)
    send(state.owner, {:beat, state.node})
    {:noreply, state}
  end

  def release_stock(%{sku: sku, amount: amount}) do
    Logger.info("releasing #{amount} of #{sku}")
    Inventory.release(sku, amount)
  end

  def rollback_noop(%{changes: []}), do: :ok
  def rollback_noop(%{changes: changes}), do: Enum.each(changes, &Repo.delete!/1)
end
