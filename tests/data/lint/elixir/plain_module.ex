defmodule Shop.Fulfilment do
  @moduledoc "A plain module (no Reactor): the same defects, written by hand."
  require Logger

  def undo_reservation(_reservation) do
    Logger.info("undo reservation")
    :ok
  end

  def handle_event(%{name: "sales.order.created"} = event, bus) do
    bus.publish("shipping.label.requested", %{
      order_id: event.payload.order_id,
      correlation_id: Ecto.UUID.generate(),
      causation_id: event.id
    })
  end

  def notify(mailer, order) do
    mailer.deliver_receipt(order.email, order.total)
  end

  defp wait_for_label(carrier, label_id) do
    case carrier.fetch_label(label_id) do
      %{state: :ready} = label ->
        label

      _pending ->
        :timer.sleep(2_000)
        wait_for_label(carrier, label_id)
    end
  end
end
